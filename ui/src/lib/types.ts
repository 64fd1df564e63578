// The app layer's types, generated from Rust (crates/core/bindings/app.ts): never written here.
export type * from '../../../crates/core/bindings/app.ts';
