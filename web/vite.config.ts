import type { Plugin } from "vite";
import { defineConfig } from "vitest/config";
import { fixtureService } from "./dev-fixtures/server.ts";

/** `vite` and `vite preview` answer the API from dev-fixtures/ (the built app in dist/ contains none of it). */
function fixtures(): Plugin {
  return {
    name: "tournament-fixtures",
    configureServer(server) {
      server.middlewares.use(fixtureService());
    },
    configurePreviewServer(server) {
      server.middlewares.use(fixtureService());
    },
  };
}

export default defineConfig({
  // Relative asset URLs: the service may mount the app under any path.
  base: "./",
  plugins: [fixtures()],
  build: {
    target: "es2022",
    outDir: "dist",
    emptyOutDir: true,
    // Bundle sizes are reported by `npm run build` and kept in the closing report; warn if a chunk grows past this.
    chunkSizeWarningLimit: 300,
  },
  server: { host: "127.0.0.1", port: 5173, strictPort: false },
  preview: { host: "127.0.0.1", port: 4173, strictPort: false },
  test: { environment: "node", include: ["test/**/*.test.ts"] },
});
