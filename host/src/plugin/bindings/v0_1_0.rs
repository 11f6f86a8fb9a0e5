//! The host side of `ferry:policy@0.1.0`, generated from `wit/0.1.0` (frozen).

use super::super::sandbox::Sandbox;

wasmtime::component::bindgen!({
    path: "../wit/0.1.0",
    world: "policy-plugin",
    additional_derives: [PartialEq, Eq],
});

impl ferry::policy::types::Host for Sandbox {}
