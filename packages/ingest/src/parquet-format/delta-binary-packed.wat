;; DELTA_BINARY_PACKED blocks (Parquet Encodings.md) for 32-bit integers, with WebAssembly SIMD.
;; Assembled into delta-binary-packed.wasm by `npm run build:wasm -w @enecg/ingest` (wabt);
;; test/wasm-kernels.test.ts checks that the committed binary is this text assembled.
;;
;; Why a kernel: every sample of every lead goes through this encoder, and in JavaScript the delta,
;; minimum and maxima pass cost about 2.6 ns/value and the packing 1.5 on our hosts. Here the
;; deltas and their bounds take four values per instruction (i32x4), and the bounds are exact for
;; any 32-bit input (signed min/max of the wrapped deltas), so one code path serves the int16
;; samples and the other integer columns.
;;
;; Memory layout (the JavaScript side, writeDeltaBinaryPacked in encodings.ts, places the values
;; and the output):
;;   [0, 512)     the current block's 128 deltas
;;   [512, 528)   the current block's 4 miniblock maxima
;;   values       `count` little-endian i32 at $values; up to 131 values past the end are read
;;                (lanes of the last block beyond `count`) and ignored, so the caller leaves room.
;;   out          the encoded blocks, written from $out; at most 521 bytes per block.
(module
  (memory (export "memory") 1)

  ;; The largest lane of $v, as a signed i32 (two shuffle steps fold four lanes into one).
  (func $max_lane (param $v v128) (result i32)
    (local.set $v (i32x4.max_s (local.get $v)
      (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v))))
    (local.set $v (i32x4.max_s (local.get $v)
      (i8x16.shuffle 4 5 6 7 0 1 2 3 12 13 14 15 8 9 10 11 (local.get $v) (local.get $v))))
    (i32x4.extract_lane 0 (local.get $v)))

  (func $min_lane (param $v v128) (result i32)
    (local.set $v (i32x4.min_s (local.get $v)
      (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v))))
    (local.set $v (i32x4.min_s (local.get $v)
      (i8x16.shuffle 4 5 6 7 0 1 2 3 12 13 14 15 8 9 10 11 (local.get $v) (local.get $v))))
    (i32x4.extract_lane 0 (local.get $v)))

  ;; Writes the blocks of the deltas of values[0, count) (count >= 2; the header, with the first
  ;; value, is the caller's) at $out and returns the end of what it wrote. Per block of 128 deltas:
  ;; the zigzag varint of their minimum, four miniblock bit widths, then each miniblock's 32
  ;; (delta - minimum) values packed at its width, least significant bits first. A short last
  ;; block is padded with values that pack as zeros; miniblocks past its last delta get width 0
  ;; and no body.
  (func (export "encodeBlocks") (param $values i32) (param $count i32) (param $out i32) (result i32)
    (local $start i32)     ;; index of the block's first value whose delta it holds
    (local $n i32)         ;; deltas in the block (128 but for the last)
    (local $at i32)        ;; byte offset into the delta scratch
    (local $source i32)    ;; address of values[start - 1 + at / 4]
    (local $lowest v128)
    (local $highest v128)
    (local $minDelta i32)
    (local $zigzag i32)
    (local $lastDelta i32)
    (local $m i32)         ;; miniblock number
    (local $widths i32)    ;; address of the block's four width bytes
    (local $width i32)
    (local $end i32)
    (local $bitsBefore i32) ;; bits of the miniblock packed before the current value
    (local $bitsAfter i32)
    (local $pending i64)    ;; bits not yet in a completed word, from bit 0
    (local $wordsAt i32)    ;; address of the miniblock's first word
    (local.set $start (i32.const 1))
    (block $blocksDone
      (loop $blocks
        (br_if $blocksDone (i32.ge_u (local.get $start) (local.get $count)))
        (local.set $n (i32.sub (local.get $count) (local.get $start)))
        (if (i32.gt_u (local.get $n) (i32.const 128)) (then (local.set $n (i32.const 128))))

        ;; Deltas, four at a time: values[i] - values[i - 1] with 32-bit wrap-around.
        (local.set $at (i32.const 0))
        (local.set $source (i32.add (local.get $values)
          (i32.shl (i32.sub (local.get $start) (i32.const 1)) (i32.const 2))))
        (loop $deltas
          (v128.store (local.get $at)
            (i32x4.sub (v128.load offset=4 (local.get $source)) (v128.load (local.get $source))))
          (local.set $at (i32.add (local.get $at) (i32.const 16)))
          (local.set $source (i32.add (local.get $source) (i32.const 16)))
          (br_if $deltas (i32.lt_u (local.get $at) (i32.const 512))))

        ;; Lanes past the last value of a short block repeat its last delta, so they leave the
        ;; block minimum and the last miniblock's maximum as they are.
        (if (i32.lt_u (local.get $n) (i32.const 128))
          (then
            (local.set $lastDelta (i32.load (i32.shl (i32.sub (local.get $n) (i32.const 1)) (i32.const 2))))
            (local.set $at (i32.shl (local.get $n) (i32.const 2)))
            (loop $pad
              (i32.store (local.get $at) (local.get $lastDelta))
              (local.set $at (i32.add (local.get $at) (i32.const 4)))
              (br_if $pad (i32.lt_u (local.get $at) (i32.const 512))))))

        ;; The block minimum and each miniblock's maximum (8 vectors of 4 deltas per miniblock).
        (local.set $lowest (v128.load (i32.const 0)))
        (local.set $at (i32.const 0))
        (local.set $m (i32.const 0))
        (loop $miniblockBounds
          (local.set $highest (v128.load (local.get $at)))
          (local.set $end (i32.add (local.get $at) (i32.const 128)))
          (loop $vectors
            (local.set $lowest (i32x4.min_s (local.get $lowest) (v128.load (local.get $at))))
            (local.set $highest (i32x4.max_s (local.get $highest) (v128.load (local.get $at))))
            (local.set $at (i32.add (local.get $at) (i32.const 16)))
            (br_if $vectors (i32.lt_u (local.get $at) (local.get $end))))
          (i32.store offset=512 (i32.shl (local.get $m) (i32.const 2)) (call $max_lane (local.get $highest)))
          (local.set $m (i32.add (local.get $m) (i32.const 1)))
          (br_if $miniblockBounds (i32.lt_u (local.get $m) (i32.const 4))))
        (local.set $minDelta (call $min_lane (local.get $lowest)))

        ;; The minimum as a zigzag ULEB128 varint.
        (local.set $zigzag (i32.xor (i32.shl (local.get $minDelta) (i32.const 1))
                                    (i32.shr_s (local.get $minDelta) (i32.const 31))))
        (block $varintDone
          (loop $varint
            (br_if $varintDone (i32.lt_u (local.get $zigzag) (i32.const 0x80)))
            (i32.store8 (local.get $out) (i32.or (i32.and (local.get $zigzag) (i32.const 0x7f)) (i32.const 0x80)))
            (local.set $out (i32.add (local.get $out) (i32.const 1)))
            (local.set $zigzag (i32.shr_u (local.get $zigzag) (i32.const 7)))
            (br $varint)))
        (i32.store8 (local.get $out) (local.get $zigzag))
        (local.set $widths (i32.add (local.get $out) (i32.const 1)))
        (local.set $out (i32.add (local.get $out) (i32.const 5)))

        ;; Padding lanes become the minimum, so they pack as zeros (the former encoder's bytes).
        (if (i32.lt_u (local.get $n) (i32.const 128))
          (then
            (local.set $at (i32.shl (local.get $n) (i32.const 2)))
            (loop $padMinimum
              (i32.store (local.get $at) (local.get $minDelta))
              (local.set $at (i32.add (local.get $at) (i32.const 4)))
              (br_if $padMinimum (i32.lt_u (local.get $at) (i32.const 512))))))

        (local.set $m (i32.const 0))
        (loop $miniblocks
          ;; Width: the bits of the largest (delta - minimum), unsigned; 0 past the block's end.
          (local.set $width (i32.const 0))
          (if (i32.lt_u (i32.shl (local.get $m) (i32.const 5)) (local.get $n))
            (then
              (local.set $width (i32.sub (i32.const 32) (i32.clz (i32.sub
                (i32.load offset=512 (i32.shl (local.get $m) (i32.const 2)))
                (local.get $minDelta)))))))
          (i32.store8 (i32.add (local.get $widths) (local.get $m)) (local.get $width))
          (if (local.get $width)
            (then
;; Branch-free packing: each value is ORed into a 64-bit accumulator above the bits
              ;; pending; the low 32 bits are stored every time, and the output moves on by one
              ;; word only once 32 bits are complete (so the last store of a word is the whole
              ;; word). 32 values of width w end exactly after w words. Positions come from the
              ;; running bit count $bitsBefore (value i starts at bit i * w), not from the
              ;; accumulator, so the only chain from value to value is one OR and one shift.
              (local.set $at (i32.shl (local.get $m) (i32.const 7)))
              (local.set $end (i32.add (local.get $at) (i32.const 128)))
              (local.set $bitsBefore (i32.const 0))
              (local.set $pending (i64.const 0))
              (local.set $wordsAt (local.get $out))
              (loop $pack
                (local.set $bitsAfter (i32.add (local.get $bitsBefore) (local.get $width)))
                (local.set $pending (i64.or (local.get $pending)
                  (i64.shl
                    (i64.extend_i32_u (i32.sub (i32.load (local.get $at)) (local.get $minDelta)))
                    (i64.extend_i32_u (i32.and (local.get $bitsBefore) (i32.const 31))))))
                (i64.store32
                  (i32.add (local.get $wordsAt)
                    (i32.shl (i32.shr_u (local.get $bitsBefore) (i32.const 5)) (i32.const 2)))
                  (local.get $pending))
                ;; 32 when value i completed a word, else 0.
                (local.set $pending (i64.shr_u (local.get $pending) (i64.extend_i32_u
                  (i32.and (i32.xor (local.get $bitsAfter) (local.get $bitsBefore)) (i32.const 32)))))
                (local.set $bitsBefore (local.get $bitsAfter))
                (local.set $at (i32.add (local.get $at) (i32.const 4)))
                (br_if $pack (i32.lt_u (local.get $at) (local.get $end))))
              (local.set $out (i32.add (local.get $out) (i32.shl (local.get $width) (i32.const 2))))))
          (local.set $m (i32.add (local.get $m) (i32.const 1)))
          (br_if $miniblocks (i32.lt_u (local.get $m) (i32.const 4))))

        (local.set $start (i32.add (local.get $start) (i32.const 128)))
        (br $blocks)))
    (local.get $out))
)
