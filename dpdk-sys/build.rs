//! Generates Rust bindings for DPDK 22.11 (found with pkg-config) and compiles
//! C wrappers for DPDK's `static inline` functions and a few macros.
use std::env;
use std::path::{Path, PathBuf};
use std::process::exit;

fn fail(msg: &str) -> ! {
    eprintln!("\nerror: {msg}\n");
    println!("cargo:warning={msg}");
    exit(1);
}

fn libclang_present() -> bool {
    if let Ok(p) = env::var("LIBCLANG_PATH") {
        return Path::new(&p).exists();
    }
    // Debian puts libclang in the multiarch directory and in /usr/lib/llvm-N/lib.
    let mut dirs: Vec<PathBuf> = vec!["/usr/lib/x86_64-linux-gnu".into(), "/usr/lib".into()];
    if let Ok(rd) = std::fs::read_dir("/usr/lib") {
        dirs.extend(
            rd.flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with("llvm-"))
                .map(|e| e.path().join("lib")),
        );
    }
    dirs.iter()
        .filter_map(|d| std::fs::read_dir(d).ok())
        .flatten()
        .flatten()
        .any(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            name.starts_with("libclang")
                && name.contains(".so")
                && !name.starts_with("libclang-cpp")
        })
}

fn main() {
    println!("cargo:rerun-if-changed=wrapper.h");
    println!("cargo:rerun-if-changed=helpers.c");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");

    let dpdk = match pkg_config::Config::new()
        .atleast_version("22.11")
        .probe("libdpdk")
    {
        Ok(lib) => lib,
        Err(e) => fail(&format!(
            "DPDK 22.11 development files were not found by pkg-config ({e}).\n\
             Install them with: apt-get install libdpdk-dev dpdk pkg-config\n\
             (or run scripts/setup.sh, which installs everything geneve-gw needs)"
        )),
    };
    if !libclang_present() {
        fail(
            "libclang was not found; bindgen needs it to read the DPDK headers.\n\
             Install it with: apt-get install libclang-dev\n\
             (or run scripts/setup.sh)",
        );
    }

    // pkg-config's cflags carry `-include rte_config.h -march=corei7`; both
    // bindgen and cc must see exactly the same flags as DPDK was built with.
    let cflags_out = std::process::Command::new("pkg-config")
        .args(["--cflags", "libdpdk"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
        .unwrap_or_else(|e| fail(&format!("cannot run pkg-config: {e}")));
    let clang_args: Vec<String> = cflags_out.split_whitespace().map(String::from).collect();

    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let wrap_c = out.join("static_fns");

    let bindings = bindgen::Builder::default()
        .header("wrapper.h")
        .clang_args(&clang_args)
        .allowlist_function("rte_.*|geneve_.*")
        .allowlist_type("rte_.*")
        .allowlist_var("RTE_.*|GENEVE_.*")
        // Packed structs with an alignment attribute: Rust cannot express
        // both, so these stay opaque byte blobs of the right size.
        .opaque_type("rte_arp_hdr")
        .opaque_type("rte_arp_ipv4")
        .opaque_type("rte_l2tpv2_combined_msg_hdr")
        .opaque_type("rte_gtp_psc_.*")
        .derive_default(true)
        .layout_tests(false)
        .generate_comments(false)
        .wrap_static_fns(true)
        .wrap_static_fns_path(&wrap_c)
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()))
        .generate()
        .unwrap_or_else(|e| fail(&format!("bindgen could not read the DPDK headers: {e}")));
    bindings
        .write_to_file(out.join("bindings.rs"))
        .unwrap_or_else(|e| fail(&format!("cannot write bindings: {e}")));

    let mut build = cc::Build::new();
    build
        .file(wrap_c.with_extension("c"))
        .file("helpers.c")
        .include(".")
        .opt_level(3)
        .warnings(false);
    for p in &dpdk.include_paths {
        build.include(p);
    }
    for a in &clang_args {
        if !a.starts_with("-I") {
            build.flag(a);
        }
    }
    // cc passes flags in order; `-include rte_config.h` is two words.
    build.compile("dpdk_sys_wrappers");
}
