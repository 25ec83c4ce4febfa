//! Gives the shared library a versioned SONAME on ELF platforms:
//! `libwsx.so.MAJOR.MINOR` (before 1.0 a minor release may break the ABI,
//! so the minor version is part of the name; from 1.0 on it would be
//! `libwsx.so.MAJOR`). Programs linked against it record that name and find
//! `make install`'s `libwsx.so.0.2 -> libwsx.so.0.2.0` link at run time;
//! `make ffi-lib` puts the same link beside cargo's `libwsx.so` in target/.
//! macOS (install_name) and Windows (no soname) are left as the linker
//! makes them.

fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if matches!(
        os.as_str(),
        "linux" | "freebsd" | "netbsd" | "openbsd" | "dragonfly"
    ) {
        let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_default();
        let minor = std::env::var("CARGO_PKG_VERSION_MINOR").unwrap_or_default();
        let soname = match major.as_str() {
            "0" => format!("libwsx.so.0.{minor}"),
            _ => format!("libwsx.so.{major}"),
        };
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,{soname}");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
