// ESLint flat config: typescript-eslint's type-aware rules and the React hooks rules.
import js from "@eslint/js";
import globals from "globals";
import reactHooks from "eslint-plugin-react-hooks";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist"] },
  {
    files: ["**/*.{ts,tsx}"],
    extends: [js.configs.recommended, ...tseslint.configs.strictTypeChecked],
    languageOptions: {
      globals: globals.browser,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { "react-hooks": reactHooks },
    rules: {
      ...reactHooks.configs.recommended.rules,
      // Only ui/src/api/ talks to the network (docs/ARCHITECTURE.md).
      "no-restricted-globals": [
        "error",
        { name: "fetch", message: "Only ui/src/api/ calls the network." },
        { name: "EventSource", message: "Only ui/src/api/ calls the network." },
      ],
      "@typescript-eslint/restrict-template-expressions": ["error", { allowNumber: true }],
      // Only ui/src/platform/tauri.ts knows the desktop shell (docs/ARCHITECTURE.md).
      "no-restricted-imports": [
        "error",
        { patterns: [{ group: ["@tauri-apps/*"], message: "Only ui/src/platform/tauri.ts talks to the desktop shell." }] },
      ],
    },
  },
  {
    files: ["src/platform/tauri.ts"],
    rules: { "no-restricted-imports": "off" },
  },
  {
    files: ["src/api/**/*.ts"],
    rules: { "no-restricted-globals": "off" },
  },
);
