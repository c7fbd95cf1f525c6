import { defineConfig } from "vitest/config";
import react from "@vitejs/plugin-react";

// The engine serves `dist/index.html` at `/` and `dist/assets/*` at `/assets/*` from its admin
// listener (crates/portico-core/src/admin/ui.rs), so the build keeps Vite's default layout.
export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // The admin listener is on loopback: no need to split for size warnings.
    chunkSizeWarningLimit: 1024,
  },
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
});
