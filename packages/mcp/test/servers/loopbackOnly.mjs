// Preloaded (`node --import`) into third-party HTTP servers that listen on every interface
// (server-everything calls `app.listen(PORT)`): binds them to 127.0.0.1 instead, and reports the
// port actually bound, so the tests can pass PORT=0 and never race for a fixed port.
import net from 'node:net';

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === 'number' || (typeof args[0] === 'string' && /^\d+$/.test(args[0]))) {
    const port = Number(args[0]);
    const rest = typeof args[1] === 'string' ? args.slice(2) : args.slice(1);
    this.once('listening', () => process.stderr.write(`SOMAAGENT_LISTENING ${this.address().port}\n`));
    return listen.call(this, port, '127.0.0.1', ...rest);
  }
  return listen.apply(this, args);
};
