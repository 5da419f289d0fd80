//! Baked program settings across layers. A layer's VFS applies its settings to what the layer
//! packed after it (or the runtime) gives it, so an earlier layer's policies also filter a later
//! layer's mounts and variables. Where that would silently hide what the new layer adds, `pack`
//! refuses, naming the input.

use crate::{PackError, PackOptions, Result};
use wasivfs_image::config::{EnvInherit, HostDirs, ProgramConfig};

/// Checks `opts` against the settings of the layers already in the input module (`earlier`, in
/// pack order).
pub(crate) fn check_layers(earlier: &[ProgramConfig], opts: &PackOptions) -> Result<()> {
    let refuse = |reason: String| PackError::Options {
        what: opts.input.display().to_string(),
        reason,
    };
    let new_mounts = !opts.mappings.is_empty() || !opts.tmpfs.is_empty();
    for p in earlier {
        if p.host_dirs == HostDirs::Deny && new_mounts {
            return Err(refuse(
                "an earlier layer hides the directories it does not embed (--host-dirs deny), \
                 so this layer's mounts would be invisible; pack every mount in one layer"
                    .into(),
            ));
        }
        if p.argv0.is_some() && opts.program.argv0.is_some() {
            return Err(refuse(
                "an earlier layer sets argv[0] (--argv0), which would override this layer's".into(),
            ));
        }
        for (name, _) in &opts.program.env {
            let hidden = match &p.env_inherit {
                EnvInherit::All => false,
                EnvInherit::None => true,
                EnvInherit::Only(names) => !names.contains(name),
            };
            if hidden {
                return Err(refuse(format!(
                    "an earlier layer does not let variable {name} through (--env-inherit), \
                     so this layer's --env {name}=... would be invisible"
                )));
            }
        }
    }
    Ok(())
}
