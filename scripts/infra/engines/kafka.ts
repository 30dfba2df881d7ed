import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import {
  choosePort,
  type Engine,
  type EngineContext,
  InfraError,
  pidAlive,
  pidCommandLine,
  run,
  spawnDetached,
  stopPid,
  TOOLS_DIR,
  tail,
  waitFor,
} from '../engine';

const { Kafka, logLevel } = kafkajs;

/**
 * Newest Apache Kafka whose whole dependency tree Maven Central serves here (4.4.0's tools need
 * artifacts that are not served). 4.x is KRaft-only: no ZooKeeper.
 */
export const KAFKA_VERSION = '4.3.1';
/** Kafka 4.3.1 logs through SLF4J 1.7 (`slf4j-api-1.7.36`); this binds it to the log4j 2.25.4 that Kafka itself brings. */
const LOG4J_SLF4J_VERSION = '2.25.4';
/** Kafka 4 brokers need Java 17 or later. */
const MIN_JAVA = 17;
/** The single KRaft node: broker and controller in one JVM. */
const NODE_ID = 1;

/** `<TOOLS_DIR>/kafka-<version>/libs/*.jar`: the broker's classpath, shared by every clone. */
export const kafkaHome = () => join(TOOLS_DIR, `kafka-${KAFKA_VERSION}`);
const libsDir = () => join(kafkaHome(), 'libs');
const serverJar = () => join(libsDir(), `kafka_2.13-${KAFKA_VERSION}.jar`);

const configPath = (ctx: EngineContext) => join(ctx.dir, 'server.properties');
const log4jPath = (ctx: EngineContext) => join(ctx.dir, 'log4j2.properties');
const dataDir = (ctx: EngineContext) => join(ctx.dir, 'data');

/** The Java major version of `java` on PATH; an InfraError when there is none or it is too old. */
async function javaMajor(): Promise<number> {
  let output: string;
  try {
    output = await run('java', ['-version']);
  } catch (error) {
    throw new InfraError(
      'kafka',
      `Java ${MIN_JAVA}+ is required and \`java\` does not run (${(error as Error).message}); install openjdk-17-jre-headless`,
    );
  }
  const match = /version "(?:1\.)?(\d+)/.exec(output);
  const major = match ? Number(match[1]) : 0;
  if (major < MIN_JAVA) {
    throw new InfraError(
      'kafka',
      `Kafka ${KAFKA_VERSION} needs Java ${MIN_JAVA}+, found: ${output.split('\n')[0]}`,
    );
  }
  return major;
}

/** A pom whose only job is to name the broker's jars, for `mvn dependency:copy-dependencies`. */
function pom(): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by scripts/infra/engines/kafka.ts: resolves the Kafka broker's jars from Maven Central. -->
<project>
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.somaagent.infra</groupId>
  <artifactId>kafka-broker</artifactId>
  <version>${KAFKA_VERSION}</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>${KAFKA_VERSION}</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>${LOG4J_SLF4J_VERSION}</version>
    </dependency>
  </dependencies>
</project>
`;
}

/**
 * Resolves the broker's jars with Maven into a scratch folder, then renames it into place, so an
 * interrupted or concurrent install (two clones) never leaves a half-filled `libs/`.
 */
async function installJars(ctx: EngineContext) {
  try {
    await run('mvn', ['-v']);
  } catch (error) {
    throw new InfraError(
      'kafka',
      `Maven (\`mvn\`) is required to fetch the Kafka ${KAFKA_VERSION} jars and does not run (${(error as Error).message}); install the Debian package maven`,
    );
  }
  mkdirSync(TOOLS_DIR, { recursive: true });
  const scratch = join(TOOLS_DIR, `kafka-${KAFKA_VERSION}.partial-${process.pid}`);
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(scratch, { recursive: true });
  writeFileSync(join(scratch, 'pom.xml'), pom());
  const log = join(ctx.dir, 'install.log');
  ctx.progress(`fetching Kafka ${KAFKA_VERSION} jars with mvn into ${kafkaHome()} (output in ${log})`);
  try {
    await run(
      'mvn',
      [
        '-B',
        '-q',
        // A repository of its own: the jars are copied out and it is deleted, ~/.m2 stays untouched.
        `-Dmaven.repo.local=${join(scratch, 'repository')}`,
        'dependency:copy-dependencies',
        `-DoutputDirectory=${join(scratch, 'libs')}`,
        '-DincludeScope=runtime',
      ],
      { cwd: scratch, logPath: log },
    );
  } catch (error) {
    rmSync(scratch, { recursive: true, force: true });
    throw new InfraError('kafka', `mvn could not fetch the Kafka jars: ${(error as Error).message}`, log);
  }
  rmSync(join(scratch, 'repository'), { recursive: true, force: true });
  if (!existsSync(join(scratch, 'libs', `kafka_2.13-${KAFKA_VERSION}.jar`))) {
    rmSync(scratch, { recursive: true, force: true });
    throw new InfraError('kafka', `mvn finished but kafka_2.13-${KAFKA_VERSION}.jar is missing`, log);
  }
  try {
    renameSync(scratch, kafkaHome());
  } catch (error) {
    // Another clone finished first: keep its copy.
    rmSync(scratch, { recursive: true, force: true });
    if (!existsSync(serverJar())) throw error;
  }
  ctx.progress(`${readdirSync(libsDir()).length} jars in ${libsDir()}`);
}

/** One id per data dir, formatted into it (`meta.properties`); a Kafka `Uuid` is 16 random bytes, base64url. */
function clusterId(ctx: EngineContext): string {
  const path = join(ctx.dir, 'cluster-id');
  if (existsSync(path)) return readFileSync(path, 'utf8').trim();
  const id = randomBytes(16).toString('base64url');
  writeFileSync(path, `${id}\n`);
  return id;
}

function writeConfig(ctx: EngineContext, port: number, controllerPort: number) {
  writeFileSync(
    configPath(ctx),
    `# Written by scripts/infra/engines/kafka.ts on every start; edits are lost.
process.roles=broker,controller
node.id=${NODE_ID}
# A static quorum of this one node: its controller port may change between starts.
controller.quorum.voters=${NODE_ID}@127.0.0.1:${controllerPort}
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}
advertised.listeners=PLAINTEXT://127.0.0.1:${port}
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=${dataDir(ctx)}
num.partitions=1
# One broker: internal topics cannot have more than one replica.
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# Few partitions for the internal topics: created on first use, 50 of each cost seconds on a small machine.
offsets.topic.num.partitions=4
transaction.state.log.num.partitions=4
# Tests start consumers and expect them to get partitions at once, not after 3 s.
group.initial.rebalance.delay.ms=0
`,
  );
  writeFileSync(
    log4jPath(ctx),
    `# Written by scripts/infra/engines/kafka.ts: warnings, plus the broker's start/stop lines, to stdout (kafka.log).
rootLogger.level=WARN
rootLogger.appenderRef.stdout.ref=STDOUT
appender.stdout.type=Console
appender.stdout.name=STDOUT
appender.stdout.layout.type=PatternLayout
appender.stdout.layout.pattern=[%d] %p %m (%c)%n
logger.raftServer.name=kafka.server.KafkaRaftServer
logger.raftServer.level=INFO
logger.kafka.name=kafka.Kafka
logger.kafka.level=INFO
`,
  );
}

function javaArgs(ctx: EngineContext, mainClass: string, heap: string): string[] {
  return [
    `-Xmx${heap}`,
    '-Xms64m',
    // Serial GC: one collector thread on a small shared machine; the heap is small anyway.
    '-XX:+UseSerialGC',
    '-Djava.awt.headless=true',
    `-Dlog4j2.configurationFile=${log4jPath(ctx)}`,
    '-cp',
    `${libsDir()}/*`,
    mainClass,
  ];
}

/** Formats the data dir once (KRaft needs a cluster id and bootstrap metadata before the first start). */
async function formatStorage(ctx: EngineContext) {
  if (existsSync(join(dataDir(ctx), 'meta.properties'))) return;
  rmSync(dataDir(ctx), { recursive: true, force: true });
  ctx.progress(`formatting ${dataDir(ctx)} (KRaft, cluster ${clusterId(ctx)})`);
  try {
    await run(
      'java',
      [
        ...javaArgs(ctx, 'kafka.tools.StorageTool', '256m'),
        'format',
        // One argument: about 1 id in 64 starts with '-', which a separate argument would turn into a flag.
        `--cluster-id=${clusterId(ctx)}`,
        '--config',
        configPath(ctx),
      ],
      { logPath: ctx.logPath },
    );
  } catch (error) {
    rmSync(dataDir(ctx), { recursive: true, force: true });
    throw new InfraError('kafka', `kafka-storage format failed: ${(error as Error).message}`, ctx.logPath);
  }
}

/** True when the broker answers a metadata request naming itself at `port`. */
async function brokerAnswers(port: number): Promise<boolean> {
  const admin = new Kafka({
    clientId: 'soma-infra-health',
    brokers: [`127.0.0.1:${port}`],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 2000,
    requestTimeout: 3000,
    retry: { retries: 0 },
  }).admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return (
      cluster.brokers.some((b) => b.nodeId === NODE_ID && b.port === port) && cluster.controller === NODE_ID
    );
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** A port for the controller listener, different from the broker's. */
async function controllerPort(ctx: EngineContext, brokerPort: number): Promise<number> {
  const path = join(ctx.dir, 'last-controller-port');
  const previous = existsSync(path) ? Number(readFileSync(path, 'utf8')) || undefined : undefined;
  let port = await choosePort('kafka', process.env.SOMA_KAFKA_CONTROLLER_PORT, previous);
  while (port === brokerPort) port = await choosePort('kafka', undefined);
  writeFileSync(path, String(port));
  return port;
}

/** Apache Kafka from Maven Central jars: one KRaft node (broker + controller) in a JVM, PLAINTEXT on 127.0.0.1. */
export const kafkaEngine: Engine = {
  name: 'kafka',
  description: `Apache Kafka ${KAFKA_VERSION} (Maven Central jars via mvn), single-node KRaft, 127.0.0.1`,

  async install(ctx) {
    await javaMajor();
    if (!existsSync(serverJar())) await installJars(ctx);
  },

  async start(ctx) {
    const port = await choosePort('kafka', process.env.SOMA_KAFKA_PORT, ctx.previousPort);
    const controller = await controllerPort(ctx, port);
    mkdirSync(dataDir(ctx), { recursive: true });
    writeConfig(ctx, port, controller);
    await formatStorage(ctx);
    ctx.progress(`starting Kafka ${KAFKA_VERSION} on 127.0.0.1:${port} (controller 127.0.0.1:${controller})`);
    const child = spawnDetached(
      'java',
      [...javaArgs(ctx, 'kafka.Kafka', '512m'), configPath(ctx)],
      ctx.logPath,
    );
    const pid = child.pid;
    if (!pid) throw new InfraError('kafka', 'could not spawn java', ctx.logPath);
    const ok = await waitFor(async () => !pidAlive(pid) || (await brokerAnswers(port)), 120_000, 250);
    if (!ok || !pidAlive(pid)) {
      if (pidAlive(pid)) await stopPid(pid, configPath(ctx), 'SIGTERM');
      throw new InfraError('kafka', `broker did not become ready:\n${tail(ctx.logPath)}`, ctx.logPath);
    }
    return {
      pid,
      port,
      startedAt: new Date().toISOString(),
      details: { controllerPort: String(controller), config: configPath(ctx), version: KAFKA_VERSION },
    };
  },

  async healthy(state, ctx) {
    const ours = pidCommandLine(state.pid).includes(state.details.config ?? configPath(ctx));
    return pidAlive(state.pid) && ours && (await brokerAnswers(state.port));
  },

  env(state) {
    return { SOMA_KAFKA_BROKERS: `127.0.0.1:${state.port}` };
  },

  async stop(state, ctx) {
    // SIGTERM: controlled shutdown (flushes logs, writes a clean-shutdown marker: no log recovery next start).
    await stopPid(state.pid, state.details.config ?? configPath(ctx), 'SIGTERM', 60_000);
    if (pidAlive(state.pid)) throw new InfraError('kafka', `PID ${state.pid} did not stop`, ctx.logPath);
  },
};
