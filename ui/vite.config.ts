import { defineConfig } from "vitest/config";
import react from "@vitejs/plugin-react";

// The engine serves `dist/index.html` at `/` and `dist/assets/*` at `/assets/*` from its admin
// listener (crates/portico-core/src/admin/ui.rs), so the build keeps Vite's default layout.
//
// `npm run dev` serves the UI with hot reload and forwards the API and the login link to a
// running `portico serve` (its admin address, `PORTICO_ADMIN`, default 127.0.0.1:7080). The
// admin listener refuses a foreign Host or Origin, so the forwarded requests carry its own.
const admin = process.env.PORTICO_ADMIN ?? "http://127.0.0.1:7080";
const toAdmin = {
  target: admin,
  changeOrigin: true,
  configure: (proxy: { on: (event: "proxyReq", listener: (req: { setHeader: (name: string, value: string) => void; getHeader: (name: string) => unknown }) => void) => void }) => {
    proxy.on("proxyReq", (req) => {
      if (req.getHeader("origin") !== undefined) req.setHeader("origin", admin);
    });
  },
};

export default defineConfig({
  plugins: [react()],
  server: {
    proxy: { "/api": toAdmin, "/login": toAdmin },
  },
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
