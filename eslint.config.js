// Lint for src/ and test/: typescript-eslint's strict type-checked rules, with the few options
// this codebase relies on (numbers and booleans in template strings; arrow shorthands that
// return void). Generated protobuf code, build output and the Go interop tree are not ours to lint.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/", "src/gen/", ".bench-build/", "interop/", "node_modules/", "**/*.mjs", "**/*.js"] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      "@typescript-eslint/restrict-template-expressions": ["error", { allowNumber: true, allowBoolean: true }],
      "@typescript-eslint/no-confusing-void-expression": ["error", { ignoreArrowShorthand: true }],
      // `const { dropped, ...rest } = x` is how a property is left out.
      "@typescript-eslint/no-unused-vars": ["error", { ignoreRestSiblings: true }],
      // TypeScript keeps a narrowing of a mutable property across awaits (`signal.aborted` is
      // "always false" after a loop's `while (!signal.aborted)`), so this rule asks to delete
      // the very checks that make cancellation work.
      "@typescript-eslint/no-unnecessary-condition": "off",
    },
  },
  {
    // Tests read JSON from peers, compare decoded enum numbers, edit process.env and write
    // fakes of async interfaces: these rules would only add casts there.
    files: ["test/**/*.ts"],
    rules: {
      "@typescript-eslint/no-non-null-assertion": "off",
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-unsafe-argument": "off",
      "@typescript-eslint/no-unsafe-return": "off",
      "@typescript-eslint/require-await": "off",
      "@typescript-eslint/no-unsafe-enum-comparison": "off",
      "@typescript-eslint/no-unsafe-enum-assignment": "off",
      "@typescript-eslint/no-dynamic-delete": "off",
      // Fakes stand in for classes, and manifests parsed from YAML have no static shape.
      "@typescript-eslint/no-unsafe-class-instance-assignment": "off",
      "@typescript-eslint/no-explicit-any": "off",
    },
  },
);
