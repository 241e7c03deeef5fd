/** The console's files, bundled as text modules (wrangler.toml `[[rules]]`; `.html` is Text by default). */

declare module "*/console/console.js" {
  const text: string;
  export default text;
}

declare module "*.css" {
  const text: string;
  export default text;
}

declare module "*.html" {
  const text: string;
  export default text;
}
