//! `rules!`: declares a rule enum (a decision's reason) with, for each variant, its stable name
//! (events, metrics) and its sentence for people, written once next to each other. It derives
//! `as_str`, `why`, `Display` and `ALL` (every variant, in order), so a test over `ALL` covers a
//! variant the day it is added.

/// See the module docs. Each variant: `doc comments, Name => "stable-name", "sentence";`.
macro_rules! rules {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident => $id:literal, $why:expr; )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant, )*
        }

        impl $name {
            /// Every rule, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            /// A stable name for events and metrics.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $id, )*
                }
            }

            /// A sentence for people, with the RFC that asks for it where there is one.
            pub fn why(self) -> &'static str {
                match self {
                    $( $name::$variant => $why, )*
                }
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl core::fmt::Display for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// Checks a rule list: names unique, lowercase kebab-case, sentences present.
#[cfg(test)]
pub(crate) fn check<T: Copy + core::fmt::Debug>(
    all: &[T],
    name: impl Fn(T) -> &'static str,
    why: impl Fn(T) -> &'static str,
) {
    let mut seen = std::collections::BTreeSet::new();
    for &r in all {
        let n = name(r);
        assert!(seen.insert(n), "{r:?}: name {n:?} used twice");
        assert!(
            !n.is_empty()
                && n.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
            "{r:?}: name {n:?} is not kebab-case"
        );
        assert!(why(r).len() > 8, "{r:?}: no sentence");
    }
}
