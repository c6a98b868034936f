import tseslint from 'typescript-eslint';

// Import boundaries: each I/O library is imported by one folder only (STYLE.md).
const only = (pkg, where) => ({
  name: pkg,
  message: `${pkg} is imported only in ${where}`,
  allowTypeImports: true,
});

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
    files: ['src/**/*.ts'],
    ignores: [
      'src/consumer/**',
      'src/dead-letter/**',
      'src/main.ts',
      'src/cli.ts',
      'src/kafka/**',
      'src/commands/demo/**',
    ],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        { paths: [only('kafkajs', 'src/consumer, src/dead-letter, src/kafka, src/commands/demo')] },
      ],
    },
  },
);
