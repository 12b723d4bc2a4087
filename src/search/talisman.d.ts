/** Minimal typing of the talisman module src/search/phonetic.ts uses (the package ships none). */
declare module 'talisman/phonetics/french/fonem.js' {
  const fonem: ((name: string) => string) | { default: (name: string) => string };
  export default fonem;
}
