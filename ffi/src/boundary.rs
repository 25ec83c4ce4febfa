//! The boundary every entry point goes through: pointer checks, panic
//! catching, result mapping and the per-thread last-error message.

use std::any::Any;
use std::borrow::Cow;
use std::cell::RefCell;
use std::ffi::{CStr, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::result::wsx_result;

/// A failure on its way to C: the code to return and the message kept for
/// `wsx_last_error_message`.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) code: wsx_result,
    pub(crate) message: Cow<'static, str>,
}

impl Failure {
    pub(crate) fn new(code: wsx_result, message: impl Into<Cow<'static, str>>) -> Failure {
        Failure {
            code,
            message: message.into(),
        }
    }

    pub(crate) fn invalid(message: impl Into<Cow<'static, str>>) -> Failure {
        Failure::new(wsx_result::WSX_ERR_INVALID_ARGUMENT, message)
    }

    pub(crate) fn state(message: impl Into<Cow<'static, str>>) -> Failure {
        Failure::new(wsx_result::WSX_ERR_STATE, message)
    }
}

impl From<wsx_core::net::Error> for Failure {
    fn from(error: wsx_core::net::Error) -> Failure {
        Failure::new(wsx_result::from_kind(error.kind()), error.into_message())
    }
}

/// The result of the body of an entry point.
pub(crate) type Outcome<T = ()> = Result<T, Failure>;

thread_local! {
    /// The last error message and its NUL: one buffer, reused, so that an
    /// expected failure (a would-block in a polling loop) allocates nothing.
    static LAST_ERROR: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Records `message` as this thread's last error (a NUL in it becomes a space).
pub(crate) fn set_last_error(message: &str) {
    LAST_ERROR.with(|last| {
        let mut last = last.borrow_mut();
        last.clear();
        last.extend(message.bytes().map(|b| if b == 0 { b' ' } else { b }));
        last.push(0);
    });
}

/// This thread's last error message; valid until the next failing call on this thread.
pub(crate) fn last_error_ptr() -> *const c_char {
    LAST_ERROR.with(|last| {
        let mut last = last.borrow_mut();
        if last.is_empty() {
            last.push(0);
        }
        last.as_ptr().cast()
    })
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    let text = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("unknown panic");
    format!("internal error (panic): {text}")
}

/// Runs the body of a fallible entry point: a panic becomes `WSX_ERR_PANIC`,
/// a failure its code, and both leave their message for
/// `wsx_last_error_message`.
pub(crate) fn ffi_call(body: impl FnOnce() -> Outcome) -> wsx_result {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => wsx_result::WSX_OK,
        Ok(Err(failure)) => {
            set_last_error(&failure.message);
            failure.code
        }
        Err(payload) => {
            set_last_error(&panic_message(payload.as_ref()));
            wsx_result::WSX_ERR_PANIC
        }
    }
}

/// Runs the body of an infallible entry point (getters, `_free`): a panic
/// leaves its message for `wsx_last_error_message` and returns `fallback`.
pub(crate) fn ffi_value<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|payload| {
        set_last_error(&panic_message(payload.as_ref()));
        fallback
    })
}

/// A shared reference from a pointer that C promised is valid, or `WSX_ERR_NULL`.
///
/// # Safety
/// `ptr` is NULL or points to a live `T` for the duration of `'a`.
pub(crate) unsafe fn arg<'a, T>(ptr: *const T, name: &str) -> Outcome<&'a T> {
    // SAFETY: the caller guarantees a non-NULL `ptr` is live.
    unsafe { ptr.as_ref() }
        .ok_or_else(|| Failure::new(wsx_result::WSX_ERR_NULL, format!("{name} is NULL")))
}

/// An exclusive reference from a pointer that C promised is valid, or `WSX_ERR_NULL`.
///
/// # Safety
/// `ptr` is NULL or points to a live `T` that nothing else uses during `'a`.
pub(crate) unsafe fn arg_mut<'a, T>(ptr: *mut T, name: &str) -> Outcome<&'a mut T> {
    // SAFETY: the caller guarantees a non-NULL `ptr` is live and unaliased.
    unsafe { ptr.as_mut() }
        .ok_or_else(|| Failure::new(wsx_result::WSX_ERR_NULL, format!("{name} is NULL")))
}

/// A UTF-8 string from a NUL-terminated C string, or `WSX_ERR_NULL` /
/// `WSX_ERR_INVALID_ARGUMENT`.
///
/// # Safety
/// `ptr` is NULL or a NUL-terminated string live for `'a`.
pub(crate) unsafe fn arg_str<'a>(ptr: *const c_char, name: &str) -> Outcome<&'a str> {
    // SAFETY: the caller guarantees a NUL-terminated string.
    let text = unsafe { opt_str(ptr, name) }?;
    text.ok_or_else(|| Failure::new(wsx_result::WSX_ERR_NULL, format!("{name} is NULL")))
}

/// Like [`arg_str`], with NULL meaning "none".
///
/// # Safety
/// `ptr` is NULL or a NUL-terminated string live for `'a`.
pub(crate) unsafe fn opt_str<'a>(ptr: *const c_char, name: &str) -> Outcome<Option<&'a str>> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: non-NULL and NUL-terminated by the caller's promise.
    let text = unsafe { CStr::from_ptr(ptr) };
    text.to_str()
        .map(Some)
        .map_err(|_| Failure::invalid(format!("{name} is not valid UTF-8")))
}

/// Bytes from a pointer and a length; NULL is allowed only with length 0.
///
/// # Safety
/// `ptr` is NULL or points to `len` readable bytes live for `'a`.
pub(crate) unsafe fn arg_bytes<'a>(ptr: *const u8, len: usize, name: &str) -> Outcome<&'a [u8]> {
    if ptr.is_null() {
        return if len == 0 {
            Ok(&[])
        } else {
            Err(Failure::new(
                wsx_result::WSX_ERR_NULL,
                format!("{name} is NULL but its length is {len}"),
            ))
        };
    }
    // SAFETY: the caller guarantees `len` readable bytes at `ptr`.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// Copies `text` and a NUL into a caller's buffer of `cap` bytes; fails with
/// `WSX_ERR_INVALID_ARGUMENT` when it does not fit.
///
/// # Safety
/// `buf` points to `cap` writable bytes (checked non-NULL here).
pub(crate) unsafe fn write_c_string(text: &str, buf: *mut c_char, cap: usize) -> Outcome {
    if buf.is_null() {
        return Err(Failure::new(wsx_result::WSX_ERR_NULL, "out_buf is NULL"));
    }
    if text.len() + 1 > cap {
        return Err(Failure::invalid(format!(
            "buffer of {cap} bytes is too small for {} bytes",
            text.len() + 1
        )));
    }
    // SAFETY: `buf` has `cap >= text.len() + 1` writable bytes.
    unsafe {
        std::ptr::copy_nonoverlapping(text.as_ptr(), buf.cast::<u8>(), text.len());
        *buf.add(text.len()) = 0;
    }
    Ok(())
}

/// A struct the caller fills (or gives to be filled) whose first field is
/// `size_t struct_size`: `sizeof` of the struct as the caller was compiled
/// with. The library reads and writes `min(struct_size, sizeof ours)` bytes,
/// so programs built against an older (shorter) or newer (longer) struct keep
/// working; fields past the caller's size take their value from
/// [`Extensible::base`].
///
/// # Safety
/// Implementors are `#[repr(C)]` structs whose first field is a `usize`, and
/// every byte pattern a C caller writes through the header's type is a valid
/// value (pointers, integers, `Option` of function pointers, C `bool`s).
pub(crate) unsafe trait Extensible: Copy + 'static {
    /// The C name, for messages.
    const NAME: &'static str;
    /// The smallest `struct_size` accepted: the end of the first field after
    /// `struct_size`.
    const MIN_SIZE: usize;
    /// The value of the fields a caller's struct is too short to hold.
    fn base() -> Self;
}

/// Checks a caller's `struct_size`.
fn check_size<T: Extensible>(theirs: usize, name: &str) -> Outcome {
    if theirs == 0 {
        return Err(Failure::invalid(format!(
            "{name}->struct_size is 0: set it to sizeof({})",
            T::NAME
        )));
    }
    if theirs < T::MIN_SIZE {
        return Err(Failure::invalid(format!(
            "{name}->struct_size is {theirs}, below the smallest {} ({} bytes): set it to sizeof({})",
            T::NAME,
            T::MIN_SIZE,
            T::NAME
        )));
    }
    Ok(())
}

/// Reads a struct the caller filled: `min(struct_size, ours)` bytes over
/// [`Extensible::base`]. NULL is `WSX_ERR_NULL`; a `struct_size` of 0 or
/// below the minimum is `WSX_ERR_INVALID_ARGUMENT`.
///
/// # Safety
/// `ptr` is NULL or points to at least `(*ptr).struct_size` readable bytes.
pub(crate) unsafe fn read_sized<T: Extensible>(ptr: *const T, name: &str) -> Outcome<T> {
    if ptr.is_null() {
        return Err(Failure::new(
            wsx_result::WSX_ERR_NULL,
            format!("{name} is NULL"),
        ));
    }
    // SAFETY: a non-NULL `T` starts with its `usize` size (the trait's promise).
    let theirs = unsafe { ptr.cast::<usize>().read_unaligned() };
    check_size::<T>(theirs, name)?;
    let mut value = T::base();
    let len = theirs.min(size_of::<T>());
    // SAFETY: the caller has `theirs >= len` readable bytes at `ptr`; `value`
    // has `size_of::<T>() >= len` bytes; every byte pattern C writes is a
    // valid `T` (the trait's promise).
    unsafe { std::ptr::copy_nonoverlapping(ptr.cast::<u8>(), (&raw mut value).cast::<u8>(), len) };
    Ok(value)
}

/// Checks a struct the caller gives to be filled, before anything is taken
/// for it: NULL is `WSX_ERR_NULL`, a bad `struct_size` `WSX_ERR_INVALID_ARGUMENT`.
///
/// # Safety
/// `out` is NULL or points to at least a readable `usize`.
pub(crate) unsafe fn check_sized_out<T: Extensible>(out: *mut T, name: &str) -> Outcome {
    if out.is_null() {
        return Err(Failure::new(
            wsx_result::WSX_ERR_NULL,
            format!("{name} is NULL"),
        ));
    }
    // SAFETY: a non-NULL `T` starts with its `usize` size (the trait's promise).
    check_size::<T>(unsafe { out.cast::<usize>().read_unaligned() }, name)
}

/// Writes `value` to a struct the caller gives to be filled: its
/// `struct_size` is kept and `min(struct_size, ours)` bytes are written.
///
/// # Safety
/// `out` is NULL or points to at least `(*out).struct_size` writable bytes.
pub(crate) unsafe fn write_sized<T: Extensible>(out: *mut T, value: T, name: &str) -> Outcome {
    if out.is_null() {
        return Err(Failure::new(
            wsx_result::WSX_ERR_NULL,
            format!("{name} is NULL"),
        ));
    }
    // SAFETY: a non-NULL `T` starts with its `usize` size (the trait's promise).
    let theirs = unsafe { out.cast::<usize>().read_unaligned() };
    check_size::<T>(theirs, name)?;
    let len = theirs.min(size_of::<T>());
    // Built in zeroed memory so padding bytes are zeros, not uninitialised.
    let mut full = std::mem::MaybeUninit::<T>::zeroed();
    full.write(value);
    // SAFETY: `full` was initialised just above.
    unsafe { full.as_mut_ptr().cast::<usize>().write_unaligned(theirs) };
    // SAFETY: `out` has `theirs >= len` writable bytes, `full` has
    // `size_of::<T>() >= len`; they do not overlap.
    unsafe { std::ptr::copy_nonoverlapping(full.as_ptr().cast::<u8>(), out.cast::<u8>(), len) };
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::ffi::CStr;

    use super::*;

    fn last_error() -> String {
        // SAFETY: a NUL-terminated string owned by this thread.
        unsafe { CStr::from_ptr(last_error_ptr()) }
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn a_panic_becomes_a_result_code_and_a_message() {
        let result = ffi_call(|| panic!("boom"));
        assert_eq!(result, wsx_result::WSX_ERR_PANIC);
        assert_eq!(last_error(), "internal error (panic): boom");
        assert_eq!(ffi_value(7, || panic!("again")), 7);
        assert!(last_error().ends_with("again"));
    }

    #[test]
    fn failures_keep_their_code_and_message() {
        let result = ffi_call(|| Err(Failure::invalid("bad\0value")));
        assert_eq!(result, wsx_result::WSX_ERR_INVALID_ARGUMENT);
        assert_eq!(last_error(), "bad value");
        assert_eq!(ffi_call(|| Ok(())), wsx_result::WSX_OK);
        assert_eq!(
            last_error(),
            "bad value",
            "a success leaves the last error alone"
        );
    }

    #[test]
    fn the_message_buffer_is_reused_and_starts_empty() {
        std::thread::spawn(|| {
            assert_eq!(last_error(), "", "no failure yet");
            set_last_error("a longer message first");
            set_last_error("short");
            assert_eq!(last_error(), "short");
        })
        .join()
        .expect("the thread's checks");
    }

    #[test]
    fn pointers_are_checked() {
        // SAFETY: NULL, and pointers to live values.
        unsafe {
            assert_eq!(
                arg::<u8>(std::ptr::null(), "x").unwrap_err().code,
                wsx_result::WSX_ERR_NULL
            );
            assert_eq!(arg_bytes(std::ptr::null(), 0, "data").unwrap(), b"");
            assert!(arg_bytes(std::ptr::null(), 1, "data").is_err());
            assert_eq!(opt_str(std::ptr::null(), "s").unwrap(), None);
            assert_eq!(arg_str(c"hi".as_ptr(), "s").unwrap(), "hi");
            let mut buf = [0 as c_char; 3];
            assert!(write_c_string("abc", buf.as_mut_ptr(), buf.len()).is_err());
            assert!(write_c_string("ab", buf.as_mut_ptr(), buf.len()).is_ok());
            assert_eq!(CStr::from_ptr(buf.as_ptr()).to_str().unwrap(), "ab");
        }
    }

    /// A two-version struct for the size rule: `b` came later.
    #[repr(C)]
    #[derive(Debug, Clone, Copy, PartialEq)]
    struct Sized2 {
        struct_size: usize,
        a: u64,
        b: u64,
    }

    // SAFETY: repr(C), `struct_size` first, integers only.
    unsafe impl Extensible for Sized2 {
        const NAME: &'static str = "sized2";
        const MIN_SIZE: usize = 16;
        fn base() -> Self {
            Sized2 {
                struct_size: 0,
                a: 1,
                b: 2,
            }
        }
    }

    #[test]
    fn sized_structs_are_read_and_written_up_to_the_callers_size() {
        let full = size_of::<Sized2>();
        let old = 16; // a caller that knows only `a`
        let theirs = Sized2 {
            struct_size: old,
            a: 10,
            b: 20,
        };
        // SAFETY: live values of the full size.
        unsafe {
            assert_eq!(
                read_sized(&theirs, "s").unwrap(),
                Sized2 {
                    struct_size: old,
                    a: 10,
                    b: Sized2::base().b
                }
            );
            let newer = Sized2 {
                struct_size: full,
                ..theirs
            };
            assert_eq!(read_sized(&newer, "s").unwrap().b, 20);
            for bad in [0, 8, 15] {
                let short = Sized2 {
                    struct_size: bad,
                    ..theirs
                };
                let failure = read_sized(&short, "s").unwrap_err();
                assert_eq!(failure.code, wsx_result::WSX_ERR_INVALID_ARGUMENT);
                assert!(
                    failure.message.contains("sizeof(sized2)"),
                    "{}",
                    failure.message
                );
            }
            assert_eq!(
                read_sized::<Sized2>(std::ptr::null(), "s")
                    .unwrap_err()
                    .code,
                wsx_result::WSX_ERR_NULL
            );

            let mut out = Sized2 {
                struct_size: old,
                a: 0,
                b: 99,
            };
            let value = Sized2 {
                struct_size: 0,
                a: 7,
                b: 8,
            };
            write_sized(&mut out, value, "out").unwrap();
            assert_eq!(
                out,
                Sized2 {
                    struct_size: old,
                    a: 7,
                    b: 99
                }
            );
            out.struct_size = 0;
            assert!(write_sized(&mut out, value, "out").is_err());
            assert!(check_sized_out(&mut out, "out").is_err());
            out.struct_size = full;
            assert!(check_sized_out(&mut out, "out").is_ok());
            write_sized(&mut out, value, "out").unwrap();
            assert_eq!(
                out,
                Sized2 {
                    struct_size: full,
                    a: 7,
                    b: 8
                }
            );
        }
    }
}
