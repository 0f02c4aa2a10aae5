/** Stylesheets are bundled by esbuild (scripts/build-admin.ts). */
declare module '*.css';
