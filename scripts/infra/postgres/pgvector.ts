import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { delimiter, join } from 'node:path';
import { type EngineContext, InfraError, run, TOOLS_DIR } from '../engine';

/**
 * pgvector for the harness's Debian PostgreSQL. Debian 12 ships no pgvector package for its
 * PostgreSQL 15, so when the extension is missing it is built from Debian trixie's SOURCE package
 * (the same code Debian builds `postgresql-17-pgvector` from), against this machine's major.
 *
 * Pinned: trixie's `0.8.0-1`. An exact Debian version so every machine builds the same code (and a
 * newer upload cannot slip in untested); 0.8.0 is the first with iterative index scans, and what
 * Debian's stable release carries. PGlite's `@electric-sql/pglite-pgvector` 0.0.15 carries 0.8.x too.
 */
export const PGVECTOR_DEBIAN_VERSION = '0.8.0-1';
/** The Debian suite whose source package is built; only ever used as `deb-src`. */
const SOURCE_SUITE = 'trixie';
/** Written by the harness; holds one deb-src stanza, never a binary (`deb`) one. */
export const PGVECTOR_APT_SOURCE = '/etc/apt/sources.list.d/somaagent-pgvector-src.sources';

const APT_DIR = '/etc/apt';
const isRoot = () => process.getuid?.() === 0;

/** `command` found on PATH, or undefined. */
function which(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(delimiter)) {
    const path = join(dir, command);
    if (dir && existsSync(path)) return path;
  }
  return undefined;
}

interface PgPaths {
  major: string;
  pgConfig: string;
  sharedir: string;
  pkglibdir: string;
  /** `<includedir-server>/postgres.h`: present only with `postgresql-server-dev-<major>`. */
  serverHeader: string;
}

async function pgPaths(bin: string): Promise<PgPaths> {
  const pgConfig = join(bin, 'pg_config');
  if (!existsSync(pgConfig)) {
    throw new InfraError(
      'postgres',
      `no pg_config next to ${join(bin, 'postgres')}: cannot tell where the vector extension belongs ` +
        '(Debian ships it in postgresql-client-<major>)',
    );
  }
  const out = await run(pgConfig, ['--version', '--sharedir', '--pkglibdir', '--includedir-server']);
  const [version = '', sharedir = '', pkglibdir = '', includes = ''] = out.trim().split('\n');
  const major = /PostgreSQL (\d+)/.exec(version)?.[1];
  if (!major) throw new InfraError('postgres', `${pgConfig} --version printed "${version}"`);
  return { major, pgConfig, sharedir, pkglibdir, serverHeader: join(includes, 'postgres.h') };
}

const installed = (p: PgPaths) =>
  existsSync(join(p.sharedir, 'extension', 'vector.control')) && existsSync(join(p.pkglibdir, 'vector.so'));

/** Fields of one deb822 stanza (continuation lines folded into the field above). */
function parseDeb822(text: string): Record<string, string>[] {
  const stanzas: Record<string, string>[] = [];
  for (const block of text.split(/\n\s*\n/)) {
    const fields: Record<string, string> = {};
    let last: string | undefined;
    for (const line of block.split('\n')) {
      if (line.startsWith('#')) continue;
      if (/^\s/.test(line) && last) fields[last] += `\n${line.trim()}`;
      else {
        const m = /^([\w-]+):\s*(.*)$/.exec(line);
        if (m) {
          last = m[1]!.toLowerCase();
          fields[last] = m[2]!.trim();
        }
      }
    }
    if (Object.keys(fields).length) stanzas.push(fields);
  }
  return stanzas;
}

interface ArchiveSource {
  uri: string;
  /** A keyring file, when the stanza names one (an inline key is not carried over). */
  signedBy?: string;
}

/**
 * The Debian archive this machine already uses for its own release (`<codename>` with `main`), so
 * the deb-src stanza points at the same mirror and keyring. Nothing is hard-coded.
 */
export function findDebianArchive(codename: string): ArchiveSource | undefined {
  const files: string[] = [];
  if (existsSync(join(APT_DIR, 'sources.list'))) files.push(join(APT_DIR, 'sources.list'));
  const partsDir = join(APT_DIR, 'sources.list.d');
  if (existsSync(partsDir)) {
    for (const f of readdirSync(partsDir).sort()) {
      const path = join(partsDir, f);
      if (path !== PGVECTOR_APT_SOURCE && (f.endsWith('.list') || f.endsWith('.sources'))) files.push(path);
    }
  }
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    if (file.endsWith('.sources')) {
      for (const s of parseDeb822(text)) {
        const words = (field: string) => (s[field] ?? '').split(/\s+/).filter(Boolean);
        if (s.enabled?.toLowerCase() === 'no') continue;
        if (!words('types').includes('deb') || !words('suites').includes(codename)) continue;
        if (!words('components').includes('main')) continue;
        const uri = words('uris')[0];
        const signedBy = s['signed-by'];
        if (uri) return { uri, signedBy: signedBy && !signedBy.includes('\n') ? signedBy : undefined };
      }
    } else {
      for (const raw of text.split('\n')) {
        const line = raw.replace(/#.*/, '').trim();
        const m = /^deb\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)\s+(.*)$/.exec(line);
        if (!m || m[3] !== codename || !m[4]!.split(/\s+/).includes('main')) continue;
        const signedBy = /(?:^|\s)signed-by=(\S+)/.exec(m[1] ?? '')?.[1];
        return { uri: m[2]!, signedBy };
      }
    }
  }
  return undefined;
}

function osCodename(): string | undefined {
  try {
    return /^VERSION_CODENAME=(.+)$/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1]?.replace(/"/g, '');
  } catch {
    return undefined;
  }
}

/**
 * `postgresql-server-dev-<major>` pinned to the installed server's Debian version when the archive
 * still has it: unpinned, apt would also upgrade the server package (and libpq) to the newest minor
 * under a possibly running cluster. When only a newer one is left, it is taken (minor releases
 * keep the extension ABI) and the note says the server package may be upgraded with it.
 */
async function serverDevPackage(major: string): Promise<{ spec: string; note?: string }> {
  const pkg = `postgresql-server-dev-${major}`;
  const server =
    // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format syntax.
    (await run('dpkg-query', ['-W', '-f=${Version}', `postgresql-${major}`]).catch(() => '')).trim();
  if (!server) return { spec: pkg };
  const madison = await run('apt-cache', ['madison', pkg]).catch(() => '');
  if (madison.split('\n').some((line) => line.split('|')[1]?.trim() === server)) {
    return { spec: `${pkg}=${server}` };
  }
  return {
    spec: pkg,
    note: `${server} is no longer in the archive; postgresql-${major} may be upgraded with it`,
  };
}

/** Writes the deb-src stanza (only when its content changed). */
function writeAptSource(): void {
  const codename = osCodename();
  if (!codename) throw new InfraError('postgres', 'no VERSION_CODENAME in /etc/os-release: is this Debian?');
  const archive = findDebianArchive(codename);
  if (!archive) {
    throw new InfraError(
      'postgres',
      `no enabled "deb" source for suite "${codename}" with component "main" in ${APT_DIR}/sources.list ` +
        `or ${APT_DIR}/sources.list.d/: cannot tell which Debian mirror to fetch pgvector's source from`,
    );
  }
  const content = [
    '# Written by SomaAgent (scripts/infra/postgres/pgvector.ts) to build pgvector for the local',
    `# PostgreSQL from Debian ${SOURCE_SUITE}'s source package. deb-src only: no binary package from`,
    `# ${SOURCE_SUITE} can be installed through it. Mirror and keyring copied from the ${codename} entry.`,
    'Types: deb-src',
    `URIs: ${archive.uri}`,
    `Suites: ${SOURCE_SUITE}`,
    'Components: main',
    ...(archive.signedBy ? [`Signed-By: ${archive.signedBy}`] : []),
    '',
  ].join('\n');
  const current = existsSync(PGVECTOR_APT_SOURCE) ? readFileSync(PGVECTOR_APT_SOURCE, 'utf8') : '';
  if (current !== content) writeFileSync(PGVECTOR_APT_SOURCE, content, { mode: 0o644 });
}

/**
 * Makes `CREATE EXTENSION vector` possible on the PostgreSQL whose binaries are in `bin`: a no-op
 * (one `pg_config` call) when `<sharedir>/extension/vector.control` and `<pkglibdir>/vector.so`
 * exist; otherwise (root only) apt-get update, `postgresql-server-dev-<major>` when the server
 * headers are missing, `apt-get source pgvector=<pin>` into TOOLS_DIR (kept for every clone), `make`,
 * `make install`. Output goes to `<ctx.dir>/install.log`.
 */
export async function ensurePgvector(ctx: EngineContext, bin: string): Promise<void> {
  const pg = await pgPaths(bin);
  if (installed(pg)) return;
  const missing = `pgvector is not installed for PostgreSQL ${pg.major} (no ${join(pg.sharedir, 'extension', 'vector.control')})`;
  if (!isRoot()) {
    throw new InfraError(
      'postgres',
      `${missing}. Run as root so the harness builds it from Debian ${SOURCE_SUITE}'s source package, ` +
        `or install pgvector ${PGVECTOR_DEBIAN_VERSION.replace(/-.*/, '')} for PostgreSQL ${pg.major} yourself.`,
    );
  }
  for (const [tool, pkg] of [
    ['apt-get', 'apt'],
    ['dpkg-source', 'dpkg-dev'],
    ['make', 'build-essential'],
    ['gcc', 'build-essential'],
  ] as const) {
    if (!which(tool)) {
      throw new InfraError(
        'postgres',
        `${missing}; building it needs ${tool} (Debian package ${pkg}), which is not on PATH`,
      );
    }
  }
  const log = join(ctx.dir, 'install.log');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const lockWait = ['-o', 'DPkg::Lock::Timeout=300'];
  const step = async (what: string, command: string, args: string[], cwd?: string) => {
    await run(command, args, { logPath: log, env, cwd }).catch((e: Error) => {
      throw new InfraError('postgres', `${what} failed: ${e.message}`, log);
    });
  };
  const started = Date.now();

  writeAptSource();
  ctx.progress(`${missing}: building it from Debian ${SOURCE_SUITE} source ${PGVECTOR_DEBIAN_VERSION}`);
  ctx.progress(`apt-get update (deb-src ${SOURCE_SUITE} in ${PGVECTOR_APT_SOURCE}; output in install.log)`);
  await step('apt-get update', 'apt-get', [...lockWait, 'update']);
  if (!existsSync(pg.serverHeader)) {
    const dev = await serverDevPackage(pg.major);
    ctx.progress(`apt-get install -y ${dev.spec}${dev.note ? ` (${dev.note})` : ''}`);
    await step(`apt-get install ${dev.spec}`, 'apt-get', [
      ...lockWait,
      'install',
      '-y',
      '--no-install-recommends',
      dev.spec,
    ]);
  }

  // The unpacked source is cached per pinned version and shared by every clone; it is unpacked
  // in a scratch folder and renamed, so a half-fetched tree never looks complete.
  const cache = join(TOOLS_DIR, `pgvector-${PGVECTOR_DEBIAN_VERSION}`);
  const source = join(cache, 'src');
  if (!existsSync(join(source, 'Makefile'))) {
    const scratch = join(cache, `fetch-${process.pid}`);
    rmSync(scratch, { recursive: true, force: true });
    mkdirSync(scratch, { recursive: true });
    ctx.progress(`apt-get source pgvector=${PGVECTOR_DEBIAN_VERSION} into ${cache}`);
    await step(
      `apt-get source pgvector=${PGVECTOR_DEBIAN_VERSION} (is it still in ${SOURCE_SUITE}?)`,
      'apt-get',
      ['source', `pgvector=${PGVECTOR_DEBIAN_VERSION}`],
      scratch,
    );
    const tree = readdirSync(scratch).find(
      (f) => f.startsWith('pgvector-') && existsSync(join(scratch, f, 'Makefile')),
    );
    if (!tree)
      throw new InfraError('postgres', `apt-get source left no pgvector-*/Makefile in ${scratch}`, log);
    rmSync(source, { recursive: true, force: true });
    renameSync(join(scratch, tree), source);
    rmSync(scratch, { recursive: true, force: true });
  }

  // Built in a private copy: the cached tree stays pristine for other majors and concurrent clones.
  const build = join(cache, `build-pg${pg.major}-${process.pid}`);
  rmSync(build, { recursive: true, force: true });
  cpSync(source, build, { recursive: true });
  // OPTFLAGS empty: upstream's default -march=native would tie the binary to this CPU (Debian's
  // `no-native` patch drops it too; this keeps a tree without that patch portable as well).
  const makeArgs = [`PG_CONFIG=${pg.pgConfig}`, 'OPTFLAGS='];
  try {
    ctx.progress(`make (PG_CONFIG=${pg.pgConfig})`);
    await step('make pgvector', 'make', ['-j2', ...makeArgs], build);
    ctx.progress('make install');
    await step('make install pgvector', 'make', ['install', ...makeArgs], build);
  } finally {
    rmSync(build, { recursive: true, force: true });
  }
  if (!installed(pg)) {
    throw new InfraError('postgres', `make install of pgvector finished, yet ${missing}`, log);
  }
  ctx.progress(
    `pgvector ${PGVECTOR_DEBIAN_VERSION} installed for PostgreSQL ${pg.major} in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
}
