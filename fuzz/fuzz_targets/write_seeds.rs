//! Not a fuzz target: the seed writer, built with the targets so that it
//! costs no build of its own. `scripts/fuzz seed` runs it once (`-runs=1`)
//! with `KP_FUZZ_SEEDS=DIR`; it writes `DIR/<target>/<name>` for every
//! target ([`kp_fuzz::seeds`]).
#![no_main]

use std::sync::Once;

use libfuzzer_sys::fuzz_target;

fn write_seeds() {
    let dir = std::env::var_os("KP_FUZZ_SEEDS")
        .expect("write_seeds: set KP_FUZZ_SEEDS to the directory to write seeds into");
    let dir = std::path::PathBuf::from(dir);
    let mut count = 0;
    for (target, seeds) in kp_fuzz::seeds::all().0 {
        let target_dir = dir.join(target);
        std::fs::create_dir_all(&target_dir)
            .unwrap_or_else(|e| panic!("write_seeds: cannot create {}: {e}", target_dir.display()));
        for (name, bytes) in seeds {
            let path = target_dir.join(&name);
            std::fs::write(&path, bytes)
                .unwrap_or_else(|e| panic!("write_seeds: cannot write {}: {e}", path.display()));
            count += 1;
        }
    }
    eprintln!("write_seeds: {count} seeds written under {}", dir.display());
}

fuzz_target!(|_data: &[u8]| {
    static ONCE: Once = Once::new();
    ONCE.call_once(write_seeds);
});
