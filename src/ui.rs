//! Messages for people on stderr: warnings unless `-q`, notes only with `-v`.
//! Results go to stdout; this is everything else.

use std::sync::atomic::{AtomicI8, Ordering};

static VERBOSITY: AtomicI8 = AtomicI8::new(0);

/// Sets how chatty stderr is: -1 quiet, 0 normal, 1+ verbose.
pub fn set_verbosity(level: i8) {
    VERBOSITY.store(level, Ordering::Relaxed);
}

/// The current verbosity: -1 quiet, 0 normal, 1+ verbose.
pub fn verbosity() -> i8 {
    VERBOSITY.load(Ordering::Relaxed)
}

/// Something the admin should know (a rotated file not found, a skipped line): shown
/// unless `-q`.
pub fn warn(message: impl std::fmt::Display) {
    if verbosity() >= 0 {
        eprintln!("saslguard: warning: {}", shown(message));
    }
}

/// Detail for `-v`: what was read from where.
pub fn note(message: impl std::fmt::Display) {
    if verbosity() >= 1 {
        eprintln!("saslguard: {}", shown(message));
    }
}

/// What a command did, for people: shown unless `-q`.
pub fn info(message: impl std::fmt::Display) {
    if verbosity() >= 0 {
        eprintln!("saslguard: {}", shown(message));
    }
}

/// A message as it reaches the terminal: messages quote paths, log text and other
/// programs' output, so hidden characters go through the one sanitizer.
pub fn shown(message: impl std::fmt::Display) -> String {
    crate::sanitize::message_for_terminal(&message.to_string()).into_owned()
}
