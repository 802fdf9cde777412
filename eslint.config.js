import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'data/**', 'deploy/local/kafka/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.strict,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
    rules: {
      // Money and quantities travel as strings; a stray Number() on them is the bug we most fear.
      'no-restricted-syntax': [
        'error',
        {
          selector: "CallExpression[callee.name='parseFloat']",
          message: 'parseFloat loses precision: parse decimals with decimal.js.',
        },
        {
          selector: "Property[key.name='clickhouse_settings']",
          message:
            'The in-process engine applies clickhouse_settings with a session-wide SET that outlives the statement: use settingsClause() from platform/store.ts.',
        },
      ],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // One home for exact decimals; tests keep their own high-precision oracles.
    files: ['**/*.ts'],
    ignores: ['platform/money.ts', '**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { paths: [{ name: 'decimal.js', message: 'compute, parse and format decimals through platform/money.ts (60 digits, exact or throwing).' }] },
      ],
    },
  },
);
