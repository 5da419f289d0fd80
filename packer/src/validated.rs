//! Validating the written output without validating the input's code twice.
//!
//! A packed core module starts its code section with the input's function bodies, in order, and
//! most of them are copied byte for byte (only those naming an intercepted import, and in
//! single-memory mode those using `memory.size`/`memory.grow`, are re-encoded). Every index such
//! a copy can name means the same in the output (the merge and the lowering only append to each
//! index space, and memory 0 stays memory 0), so a copy is valid in the output exactly when it was
//! valid in the input. The output is therefore validated whole except for the copies, and the
//! input is validated on its own: once per input, since the compilation cache remembers the
//! hash of every input found valid (with the validator's identity, so another wasivfs validates
//! again).

use crate::error::{PackError, Result};
use std::path::Path;
use wasivfs_trampoline_gen::MergeError;

/// Which bodies of the written module are byte-for-byte copies of the input's.
#[derive(Clone, Debug)]
pub(crate) struct Copied {
    /// The input defines this many bodies: the first ones of the output's code section.
    pub app_bodies: usize,
    /// Of those, the ones re-encoded by the merge or the lowering, ascending.
    pub rewritten: Vec<usize>,
    /// SHA-256 (hex) of the input bytes that were packed (the layer's record has it anyway).
    pub input_sha256: String,
}

impl Copied {
    fn is_copy(&self, body: usize) -> bool {
        body < self.app_bodies && self.rewritten.binary_search(&body).is_err()
    }

    /// What the cache remembers for a valid input: its hash and who validated it.
    fn memo_key(&self) -> String {
        format!(
            "core module sha256:{} valid for {} with features {:x}",
            self.input_sha256,
            crate::TOOL,
            wasivfs_trampoline_gen::validation_features().bits()
        )
    }
}

/// Validates the written core module `module` of which `copied` describes the copies: the
/// input (`input`, read again and checked to be the bytes packed) unless `memo` knows it valid,
/// then the output without the copies. Errors say which of the two is invalid.
pub(crate) fn validate(
    module: &[u8],
    input: &Path,
    copied: &Copied,
    memo: Option<&wasivfs_module_cache::ModuleCache>,
) -> Result<()> {
    let module_err = |source| PackError::Module {
        path: input.to_path_buf(),
        source,
    };
    let key = copied.memo_key();
    let known = memo.is_some_and(|m| m.knows_valid(&key));
    let (input_result, output_result) = rayon::join(
        || {
            if known {
                return Ok(());
            }
            let app = std::fs::read(input).map_err(|e| PackError::io(input, e))?;
            let (hash, valid) = rayon::join(
                || crate::info::sha256_hex(&app),
                || wasivfs_trampoline_gen::validate_module(&app),
            );
            if hash != copied.input_sha256 {
                return Err(PackError::entry(
                    input,
                    "the module changed while it was being packed",
                ));
            }
            valid.map_err(|bad| module_err(MergeError::InvalidInput(bad)))
        },
        || wasivfs_trampoline_gen::validate_module_except(module, |i| copied.is_copy(i)),
    );
    input_result?;
    output_result.map_err(|bad| module_err(MergeError::InvalidOutput(bad)))?;
    if let (false, Some(memo)) = (known, memo) {
        memo.remember_valid(&key);
    }
    Ok(())
}
