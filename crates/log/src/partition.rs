//! Which partition a key lands in.

/// The partition of `key` among `partitions`: CRC-32 (IEEE) of the key modulo the partition
/// count. This is librdkafka's `consistent` partitioner, which the kafka backend also uses, so a
/// key lands in the same partition on both backends for the same partition count.
pub fn partition_for_key(key: &[u8], partitions: u32) -> u32 {
    debug_assert!(partitions > 0);
    crc32fast::hash(key) % partitions.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_key_same_partition_and_spread() {
        assert_eq!(partition_for_key(b"abc", 3), partition_for_key(b"abc", 3));
        let mut seen = [0u32; 3];
        for i in 0..3000 {
            seen[partition_for_key(i.to_string().as_bytes(), 3) as usize] += 1;
        }
        assert!(seen.iter().all(|&n| n > 800), "{seen:?}");
    }

    #[test]
    fn crc32_matches_the_ieee_check_value() {
        // The standard CRC-32 check value, so the partition agrees with librdkafka's.
        assert_eq!(crc32fast::hash(b"123456789"), 0xCBF4_3926);
    }
}
