import tseslint from 'typescript-eslint';

/**
 * Import boundaries: each I/O library is imported (as a value) by the folders that own it, and nowhere
 * else in src/ (STYLE.md). Type imports are allowed anywhere: passing a `Pool` or a `Kafka` along is not
 * calling it. Tests, the benchmark and scripts drive the real libraries directly and are not restricted.
 */
const OWNERS = {
  kafkajs: ['src/kafka', 'src/consumer', 'src/dead-letter', 'src/commands/demo'],
  pg: ['src/subscriptions'],
  'pg-copy-streams': ['src/delivery-log'],
  undici: ['src/transport'],
  got: ['src/transport'],
  // main.ts, the composition root, builds the metrics registry the way it builds the other real clients.
  'prom-client': ['src/metrics', 'src/main.ts'],
  pino: ['src/logger.ts'],
  '@kafkajs/confluent-schema-registry': ['src/events', 'src/commands/demo'],
  fastify: ['src/api'],
};

const restrict = (pkg) => {
  const message = `${pkg} is imported only in ${OWNERS[pkg].join(', ')} (type imports are allowed anywhere)`;
  return {
    path: { name: pkg, message, allowTypeImports: true },
    pattern: { group: [`${pkg}/*`], message, allowTypeImports: true },
  };
};

const globOf = (place) => (place.endsWith('.ts') ? place : `${place}/**/*.ts`);
const within = (place, owner) => place === owner || place.startsWith(`${owner}/`);

/** One rule setting per place (the last matching config wins): every library the place does not own. */
const boundary = (files, place) => {
  const banned = Object.keys(OWNERS).filter((pkg) => !OWNERS[pkg].some((o) => within(place, o)));
  return {
    files,
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: banned.map((pkg) => restrict(pkg).path),
          patterns: banned.map((pkg) => restrict(pkg).pattern),
        },
      ],
    },
  };
};

// Owners first by depth, so a nested owner (src/commands/demo) overrides its parent's setting.
const places = [...new Set(Object.values(OWNERS).flat())].sort((a, b) => a.length - b.length);

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      '.infra/**',
      'bench/.peer/**',
      'bench/.scratch/**',
      'bench/.build/**',
      'bench/.profiles/**',
      'coverage/**',
    ],
  },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      curly: ['error', 'multi-line'],
    },
  },
  {
    // Type-aware rules, on the TypeScript files only: one program from tsconfig.json (src, test, bench,
    // scripts), measured faster than `projectService` here (15 s of CPU against 19 s for the whole lint).
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { project: './tsconfig.json', tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // A promise nobody awaits loses its rejection (an unhandled rejection ends the process) and its
      // ordering; fire-and-forget is written `void p`, for a promise whose errors are handled where it is made.
      '@typescript-eslint/no-floating-promises': 'error',
    },
  },
  boundary(['src/**/*.ts'], 'src'),
  ...places.map((place) => boundary([globOf(place)], place)),
);
