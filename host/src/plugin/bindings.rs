//! The host side of the `ferry:policy` contract, generated once from `wit/`.

wasmtime::component::bindgen!({
    path: "../wit/0.1.0",
    world: "policy-plugin",
    additional_derives: [PartialEq, Eq],
});
