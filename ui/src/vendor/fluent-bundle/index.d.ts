// The page loads @fluent/bundle's ES modules from js/vendor/fluent-bundle
// (ui/scripts/vendor.mjs copies them there: no bundler); its types are the
// package's own.
export * from "@fluent/bundle";
