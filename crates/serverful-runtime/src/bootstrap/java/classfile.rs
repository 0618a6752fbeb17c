//! Just enough of the Java class file format to check a handler at start: a class's
//! superclass, interfaces and public methods (JVM specification, chapter 4).

/// `ACC_PUBLIC` on a method.
const ACC_PUBLIC: u16 = 0x0001;
/// `ACC_STATIC` on a method.
const ACC_STATIC: u16 = 0x0008;
/// `ACC_INTERFACE` on a class.
const ACC_INTERFACE: u16 = 0x0200;

/// What a class file says about a class's shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ClassInfo {
    /// Internal name (`example/Hello`).
    pub name: String,
    pub is_interface: bool,
    /// Internal name of the superclass; `None` for `java/lang/Object` itself.
    pub super_class: Option<String>,
    pub interfaces: Vec<String>,
    pub methods: Vec<Method>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Method {
    pub name: String,
    pub is_public: bool,
    pub is_static: bool,
}

/// Reads a class file; `None` when the bytes are not one (or not one this reader knows).
pub(crate) fn parse(bytes: &[u8]) -> Option<ClassInfo> {
    let mut reader = Reader { bytes, offset: 0 };
    if reader.u32()? != 0xCAFE_BABE {
        return None;
    }
    reader.skip(4)?; // minor and major version
    let pool = read_constant_pool(&mut reader)?;
    let access = reader.u16()?;
    let name = pool.class_name(reader.u16()?)?;
    let super_index = reader.u16()?;
    let super_class = if super_index == 0 {
        None
    } else {
        Some(pool.class_name(super_index)?)
    };
    let interface_count = reader.u16()?;
    let mut interfaces = Vec::with_capacity(usize::from(interface_count));
    for _ in 0..interface_count {
        interfaces.push(pool.class_name(reader.u16()?)?);
    }
    // Fields: access, name, descriptor, attributes.
    for _ in 0..reader.u16()? {
        reader.skip(6)?;
        skip_attributes(&mut reader)?;
    }
    let method_count = reader.u16()?;
    let mut methods = Vec::with_capacity(usize::from(method_count));
    for _ in 0..method_count {
        let method_access = reader.u16()?;
        let method_name = pool.utf8(reader.u16()?)?;
        reader.skip(2)?; // descriptor
        skip_attributes(&mut reader)?;
        methods.push(Method {
            name: method_name,
            is_public: method_access & ACC_PUBLIC != 0,
            is_static: method_access & ACC_STATIC != 0,
        });
    }
    Some(ClassInfo {
        name,
        is_interface: access & ACC_INTERFACE != 0,
        super_class,
        interfaces,
        methods,
    })
}

struct Reader<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, count: usize) -> Option<&'a [u8]> {
        let end = self.offset.checked_add(count)?;
        let slice = self.bytes.get(self.offset..end)?;
        self.offset = end;
        Some(slice)
    }

    fn skip(&mut self, count: usize) -> Option<()> {
        self.take(count).map(|_| ())
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|bytes| bytes[0])
    }

    fn u16(&mut self) -> Option<u16> {
        self.take(2)
            .map(|bytes| u16::from_be_bytes([bytes[0], bytes[1]]))
    }

    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|bytes| u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }
}

fn skip_attributes(reader: &mut Reader<'_>) -> Option<()> {
    for _ in 0..reader.u16()? {
        reader.skip(2)?;
        let length = usize::try_from(reader.u32()?).ok()?;
        reader.skip(length)?;
    }
    Some(())
}

/// The constant pool entries a class's shape refers to: UTF-8 strings and class entries.
struct ConstantPool {
    /// By pool index (entry 0 is unused); `None` for entries of other kinds.
    entries: Vec<Constant>,
}

#[derive(Clone)]
enum Constant {
    Other,
    Utf8(String),
    /// The index of the class's name.
    Class(u16),
}

impl ConstantPool {
    fn utf8(&self, index: u16) -> Option<String> {
        match self.entries.get(usize::from(index))? {
            Constant::Utf8(text) => Some(text.clone()),
            _ => None,
        }
    }

    fn class_name(&self, index: u16) -> Option<String> {
        match self.entries.get(usize::from(index))? {
            Constant::Class(name) => self.utf8(*name),
            _ => None,
        }
    }
}

fn read_constant_pool(reader: &mut Reader<'_>) -> Option<ConstantPool> {
    let count = usize::from(reader.u16()?);
    let mut entries = vec![Constant::Other; count.max(1)];
    let mut index = 1;
    while index < count {
        let tag = reader.u8()?;
        let mut slots = 1;
        entries[index] = match tag {
            1 => {
                let length = usize::from(reader.u16()?);
                // Modified UTF-8; names of classes and methods are plain UTF-8 in practice.
                Constant::Utf8(String::from_utf8_lossy(reader.take(length)?).into_owned())
            }
            7 => Constant::Class(reader.u16()?),
            3 | 4 => {
                reader.skip(4)?;
                Constant::Other
            }
            5 | 6 => {
                // Longs and doubles take two pool slots.
                reader.skip(8)?;
                slots = 2;
                Constant::Other
            }
            8 | 16 | 19 | 20 => {
                reader.skip(2)?;
                Constant::Other
            }
            9 | 10 | 11 | 12 | 17 | 18 => {
                reader.skip(4)?;
                Constant::Other
            }
            15 => {
                reader.skip(3)?;
                Constant::Other
            }
            _ => return None,
        };
        index += slots;
    }
    Some(ConstantPool { entries })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A class file built by hand: `public class example/Hello extends java/lang/Object
    /// implements example/Api`, with a long constant (two slots), a field and two methods.
    fn hello_class() -> Vec<u8> {
        let mut bytes = vec![0xCA, 0xFE, 0xBA, 0xBE, 0, 0, 0, 61];
        let utf8 = |text: &str| {
            let mut entry = vec![1];
            entry.extend((text.len() as u16).to_be_bytes());
            entry.extend(text.as_bytes());
            entry
        };
        let mut pool: Vec<Vec<u8>> = vec![
            utf8("example/Hello"),                          // 1
            vec![7, 0, 1],                                  // 2: class example/Hello
            utf8("java/lang/Object"),                       // 3
            vec![7, 0, 3],                                  // 4: class java/lang/Object
            vec![5, 0, 0, 0, 0, 0, 0, 0, 1],                // 5-6: long
            utf8("example/Api"),                            // 7
            vec![7, 0, 7],                                  // 8: class example/Api
            utf8("handle"),                                 // 9
            utf8("(Ljava/lang/String;)Ljava/lang/String;"), // 10
            utf8("helper"),                                 // 11
            utf8("count"),                                  // 12
            utf8("I"),                                      // 13
            utf8("Code"),                                   // 14
        ];
        bytes.extend(15u16.to_be_bytes()); // pool count: last index + 1 (the long takes 5 and 6)
        for entry in pool.drain(..) {
            bytes.extend(entry);
        }
        bytes.extend(0x0021u16.to_be_bytes()); // public super
        bytes.extend(2u16.to_be_bytes());
        bytes.extend(4u16.to_be_bytes());
        bytes.extend(1u16.to_be_bytes());
        bytes.extend(8u16.to_be_bytes());
        // One field with no attributes.
        bytes.extend(1u16.to_be_bytes());
        bytes.extend([0, 2, 0, 12, 0, 13, 0, 0]);
        // Two methods: public handle (with a Code attribute), private static helper.
        bytes.extend(2u16.to_be_bytes());
        bytes.extend([0, 1, 0, 9, 0, 10, 0, 1, 0, 14, 0, 0, 0, 2, 0xAB, 0xCD]);
        bytes.extend([0, 0x0A, 0, 11, 0, 10, 0, 0]);
        bytes
    }

    #[test]
    fn reads_the_shape_of_a_class() {
        let info = parse(&hello_class()).expect("a class file");
        assert_eq!(info.name, "example/Hello");
        assert!(!info.is_interface);
        assert_eq!(info.super_class.as_deref(), Some("java/lang/Object"));
        assert_eq!(info.interfaces, ["example/Api"]);
        assert_eq!(
            info.methods,
            [
                Method {
                    name: "handle".to_owned(),
                    is_public: true,
                    is_static: false
                },
                Method {
                    name: "helper".to_owned(),
                    is_public: false,
                    is_static: true
                },
            ]
        );
    }

    #[test]
    fn anything_else_is_not_a_class() {
        assert_eq!(parse(b"PK\x03\x04"), None);
        let mut truncated = hello_class();
        truncated.truncate(40);
        assert_eq!(parse(&truncated), None);
    }
}
