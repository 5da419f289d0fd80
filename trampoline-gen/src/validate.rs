//! Validation of the merged module with wasmparser, function bodies in parallel.

use rayon::prelude::*;
use wasmparser::{FuncValidatorAllocations, Parser, ValidPayload, Validator, WasmFeatures};

/// The features the merged module may use, and the output and the input are validated with:
/// everything a WASI program built by current toolchains may contain, and multi-memory (which
/// the merge itself needs).
pub fn features() -> WasmFeatures {
    WasmFeatures::default() | WasmFeatures::MULTI_MEMORY | WasmFeatures::LEGACY_EXCEPTIONS
}

/// Validates a core module; function bodies are validated in parallel, except those (by
/// position in the code section) for which `skip_body` is true.
pub(crate) fn validate(bytes: &[u8], skip_body: impl Fn(usize) -> bool) -> Result<(), String> {
    let mut validator = Validator::new_with_features(features());
    let mut funcs = Vec::new();
    let mut position = 0;
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(|e| e.to_string())?;
        if let ValidPayload::Func(func, body) =
            validator.payload(&payload).map_err(|e| e.to_string())?
        {
            if !skip_body(position) {
                funcs.push((func, body));
            }
            position += 1;
        }
    }
    funcs.into_par_iter().with_min_len(64).try_for_each_init(
        FuncValidatorAllocations::default,
        |allocs, (func, body)| {
            let mut v = func.into_validator(std::mem::take(allocs));
            v.validate(&body).map_err(|e| e.to_string())?;
            *allocs = v.into_allocations();
            Ok(())
        },
    )
}

/// Validates a whole module (every function body, in parallel) with the features a merged
/// module may use; the packer runs it over the output it wrote. A passive data segment's bytes
/// are never read, so validating a memory-mapped output touches its code, not its contents.
pub fn validate_module(bytes: &[u8]) -> Result<(), String> {
    validate(bytes, |_| false)
}

/// [`validate_module`], except the function bodies (by position in the code section) for which
/// `skip_body` is true: for a module whose skipped bodies are known valid, e.g. bodies copied
/// byte for byte from a module validated before, every index of which still means the same.
pub fn validate_module_except(
    bytes: &[u8],
    skip_body: impl Fn(usize) -> bool,
) -> Result<(), String> {
    validate(bytes, skip_body)
}
