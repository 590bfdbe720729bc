// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** docs/architecture.md: the folder tree is the architecture diagram; these rules keep it true. */
const layer = (files, group, message) => ({
  files,
  rules: { 'no-restricted-imports': ['error', { patterns: [{ group, message }] }] },
});

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: {
          allowDefaultProject: [
            '*.js',
            'bin/*.js',
            'scripts/*.mjs',
            'bench/*.mjs',
            'test/integration/fixtures/*.mjs',
            'src/admin/dashboard/*.js',
          ],
          // The plain .js/.mjs files (scripts, bench, fixtures, the dashboard) are linted without type information.
          maximumDefaultProjectFileMatchCount_THIS_WILL_SLOW_DOWN_LINTING: 64,
        },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', name: ['test', 'describe', 'it', 'suite'], package: 'node:test' },
          ],
        },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-syntax': [
        'error',
        {
          selector: "CallExpression[callee.property.name='pipe']",
          message: 'use stream.pipeline, never .pipe() (docs/guarantees.md)',
        },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        URL: 'readonly',
      },
    },
  },
  layer(
    ['src/control/**/*.ts'],
    ['**/data/*', '**/data/**', '**/admin/**', '**/cli/**'],
    'control/ never imports data/ (docs/architecture.md)',
  ),
  layer(
    ['src/core/**/*.ts'],
    [
      'node:net',
      'node:http',
      'node:http2',
      'node:tls',
      'node:dgram',
      '**/data/**',
      '**/control/**',
      '**/admin/**',
      '**/cli/**',
      '**/cluster/**',
      '**/observability/**',
      '**/main.js',
    ],
    'core/ holds shared words only: no sockets, no other layer (docs/architecture.md)',
  ),
  {
    // The snapshot's types are the configuration's (inferred from its zod schema): core/ may name them, never run
    // config/ code.
    files: ['src/core/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/config/**'],
              allowTypeImports: true,
              message: 'core/ takes only types from config/ (docs/architecture.md)',
            },
          ],
        },
      ],
    },
  },
  layer(
    ['src/admin/**/*.ts'],
    ['**/data/**', '**/cluster/**', '**/cli/**', '**/main.js'],
    'admin/ reads snapshots and calls the control plane; it is handed what it reads of the data plane (docs/architecture.md)',
  ),
  layer(
    ['src/cluster/**/*.ts'],
    ['**/admin/**', '**/control/**', '**/cli/**'],
    'cluster/ runs data planes in workers and talks to them over IPC; it never reaches into admin/ or control/ (docs/architecture.md)',
  ),
  layer(
    ['src/observability/**/*.ts'],
    ['**/data/**', '**/control/**', '**/admin/**', '**/cli/**', '**/cluster/**', '**/main.js'],
    'observability/ turns plain reports into metrics and log lines; the other layers call it (docs/architecture.md)',
  ),
  {
    files: ['src/simulate/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '(^|/)data/(?!balancing/)|(^|/)(control|admin|cli|cluster)/',
              message:
                'the simulator runs the real algorithms and nothing else of the data path (docs/architecture.md)',
            },
          ],
        },
      ],
    },
  },
  layer(
    ['src/data/**/*.ts'],
    ['**/control/**', '**/admin/**', '**/cli/**'],
    'the data plane learns everything through apply(snapshot) (docs/architecture.md)',
  ),
  {
    files: ['src/data/balancing/**/*.ts', 'src/data/routing/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(?!\\./[^/]+$|\\.\\./\\.\\./core/[^/]+$)',
              message:
                'balancing and routing are pure: they import only core/ and their own folder (docs/architecture.md)',
            },
          ],
        },
      ],
    },
  },
  layer(
    ['src/client/**/*.ts'],
    ['**/data/**', '**/control/**', '**/admin/**', '**/cli/**'],
    'client/ talks to the admin API over HTTP only',
  ),
  layer(
    ['src/config/**/*.ts'],
    ['**/data/**', '**/control/**', '**/admin/**', '**/cli/**'],
    'config/ is the typed model only',
  ),
);
