//! Why a value could not be serialized, in the words of the code that refused.
//!
//! postcard reports every refusal of a `Serialize` impl (`Error::custom("...")`: a user's
//! own, or std's for a path that is not UTF-8) as the same "Serde Serialization Error",
//! without the message. When encoding fails, the value is walked once more by a
//! serializer that writes nothing and keeps the first message it is given.

use std::fmt;

use serde::ser::{self, Serialize};

/// The message a `Serialize` impl of `value` (or of something inside it) failed with, if
/// it fails with one.
pub(crate) fn of<T: Serialize + ?Sized>(value: &T) -> Option<String> {
    value.serialize(Catch).err().map(|Caught(msg)| msg)
}

#[derive(Debug)]
struct Caught(String);

impl fmt::Display for Caught {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Caught {}

impl ser::Error for Caught {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Caught(msg.to_string())
    }
}

/// A serializer that accepts everything and keeps nothing but a refusal's message.
struct Catch;

type Done = Result<(), Caught>;

macro_rules! accept {
    ($($method:ident($($t:ty),*);)*) => {
        $(fn $method(self, $(_: $t),*) -> Done { Ok(()) })*
    };
}

impl ser::Serializer for Catch {
    type Ok = ();
    type Error = Caught;
    type SerializeSeq = Catch;
    type SerializeTuple = Catch;
    type SerializeTupleStruct = Catch;
    type SerializeTupleVariant = Catch;
    type SerializeMap = Catch;
    type SerializeStruct = Catch;
    type SerializeStructVariant = Catch;

    accept! {
        serialize_bool(bool);
        serialize_i8(i8);
        serialize_i16(i16);
        serialize_i32(i32);
        serialize_i64(i64);
        serialize_i128(i128);
        serialize_u8(u8);
        serialize_u16(u16);
        serialize_u32(u32);
        serialize_u64(u64);
        serialize_u128(u128);
        serialize_f32(f32);
        serialize_f64(f64);
        serialize_char(char);
        serialize_str(&str);
        serialize_bytes(&[u8]);
        serialize_none();
        serialize_unit();
        serialize_unit_struct(&'static str);
        serialize_unit_variant(&'static str, u32, &'static str);
    }

    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Done {
        value.serialize(Catch)
    }

    fn serialize_newtype_struct<T: ?Sized + Serialize>(self, _: &'static str, v: &T) -> Done {
        v.serialize(Catch)
    }

    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        v: &T,
    ) -> Done {
        v.serialize(Catch)
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Catch, Caught> {
        Ok(Catch)
    }

    fn serialize_tuple(self, _: usize) -> Result<Catch, Caught> {
        Ok(Catch)
    }

    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Catch, Caught> {
        Ok(Catch)
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Catch, Caught> {
        Ok(Catch)
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Catch, Caught> {
        Ok(Catch)
    }

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Catch, Caught> {
        Ok(Catch)
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Catch, Caught> {
        Ok(Catch)
    }
}

macro_rules! compound {
    ($($trait:ident :: $method:ident;)*) => { $(
        impl ser::$trait for Catch {
            type Ok = ();
            type Error = Caught;
            fn $method<T: ?Sized + Serialize>(&mut self, value: &T) -> Done {
                value.serialize(Catch)
            }
            fn end(self) -> Done {
                Ok(())
            }
        }
    )* };
}

compound! {
    SerializeSeq::serialize_element;
    SerializeTuple::serialize_element;
    SerializeTupleStruct::serialize_field;
    SerializeTupleVariant::serialize_field;
}

impl ser::SerializeMap for Catch {
    type Ok = ();
    type Error = Caught;
    fn serialize_key<T: ?Sized + Serialize>(&mut self, key: &T) -> Done {
        key.serialize(Catch)
    }
    fn serialize_value<T: ?Sized + Serialize>(&mut self, value: &T) -> Done {
        value.serialize(Catch)
    }
    fn end(self) -> Done {
        Ok(())
    }
}

macro_rules! keyed {
    ($($trait:ident;)*) => { $(
        impl ser::$trait for Catch {
            type Ok = ();
            type Error = Caught;
            fn serialize_field<T: ?Sized + Serialize>(&mut self, _: &'static str, v: &T) -> Done {
                v.serialize(Catch)
            }
            fn end(self) -> Done {
                Ok(())
            }
        }
    )* };
}

keyed! {
    SerializeStruct;
    SerializeStructVariant;
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Refuses;

    impl Serialize for Refuses {
        fn serialize<S: ser::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            Err(ser::Error::custom(
                "refused: the connection is not serializable",
            ))
        }
    }

    #[test]
    fn the_first_refusal_inside_a_value_is_kept() {
        let value = (1u8, vec![Some(("a", Refuses))]);
        assert_eq!(
            of(&value).as_deref(),
            Some("refused: the connection is not serializable")
        );
        assert_eq!(of(&(1u8, "fine")), None);
    }

    #[test]
    fn a_path_that_is_not_utf8_says_so() {
        use std::os::unix::ffi::OsStrExt;
        let path = std::path::PathBuf::from(std::ffi::OsStr::from_bytes(b"/tmp/\xff"));
        let msg = of(&path).unwrap();
        assert!(msg.contains("UTF-8"), "{msg}");
    }
}
