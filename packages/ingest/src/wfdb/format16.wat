;; De-interleaving of format 16 frames (little-endian int16, one sample per signal per frame) with
;; the validation totals of each signal, in WebAssembly (SIMD for the totals).
;; Assembled into format16.wasm by `npm run build:wasm -w @enecg/ingest` (wabt);
;; test/wasm-kernels.test.ts checks that the committed binary is this text assembled.
;;
;; Why a kernel: every sample of every record goes through this copy, and the JavaScript loop
;; (copy, sum and invalid-marker count fused) ran at about 3 ns/value.
;;
;; Memory layout (the JavaScript side, format16-kernel.ts, places everything):
;;   $frames   `length` frames of `frameSize` int16
;;   $out      the signals one after the other, `length` int16 each
;;   $totals   per signal two i32: the sum of its samples (wrapping) and its count of -32768
(module
  (memory (export "memory") 1)

  (func $lane_sum (param $v v128) (result i32)
    (i32.add
      (i32.add (i32x4.extract_lane 0 (local.get $v)) (i32x4.extract_lane 1 (local.get $v)))
      (i32.add (i32x4.extract_lane 2 (local.get $v)) (i32x4.extract_lane 3 (local.get $v)))))

  (func (export "deinterleave") (param $frames i32) (param $frameSize i32) (param $length i32)
                                (param $out i32) (param $totals i32)
    (local $signal i32)
    (local $source i32)
    (local $stride i32)      ;; bytes per frame
    (local $target i32)
    (local $signalStart i32)
    (local $vectorsEnd i32)  ;; end of the signal's whole 8-sample vectors
    (local $signalEnd i32)
    (local $sums v128)       ;; i32x4 partial sums
    (local $invalid v128)    ;; i32x4 partial counts of -32768
    (local $marker v128)
    (local $sum i32)
    (local $count i32)
    (local $value i32)
    (local.set $stride (i32.shl (local.get $frameSize) (i32.const 1)))
    (local.set $marker (i16x8.splat (i32.const -32768)))
    (local.set $signal (i32.const 0))
    (block $done
      (loop $signals
        (br_if $done (i32.ge_u (local.get $signal) (local.get $frameSize)))
        (local.set $signalStart (i32.add (local.get $out)
          (i32.shl (i32.mul (local.get $signal) (local.get $length)) (i32.const 1))))
        (local.set $signalEnd (i32.add (local.get $signalStart) (i32.shl (local.get $length) (i32.const 1))))

        ;; The strided copy: one sample per frame (a plain scalar loop; the frames stay in cache
        ;; from one signal to the next).
        (local.set $source (i32.add (local.get $frames) (i32.shl (local.get $signal) (i32.const 1))))
        (local.set $target (local.get $signalStart))
        (block $copied
          (loop $copy
            (br_if $copied (i32.ge_u (local.get $target) (local.get $signalEnd)))
            (i32.store16 (local.get $target) (i32.load16_u (local.get $source)))
            (local.set $source (i32.add (local.get $source) (local.get $stride)))
            (local.set $target (i32.add (local.get $target) (i32.const 2)))
            (br $copy)))

        ;; Totals over the contiguous copy, eight samples at a time: pairwise widening adds keep
        ;; four 32-bit sums; a lane equal to the marker is -1 in the comparison mask, so
        ;; subtracting the widened mask counts it (two lanes per i32 lane, each at most -1).
        (local.set $sums (v128.const i32x4 0 0 0 0))
        (local.set $invalid (v128.const i32x4 0 0 0 0))
        (local.set $target (local.get $signalStart))
        (local.set $vectorsEnd (i32.add (local.get $signalStart)
          (i32.shl (i32.and (local.get $length) (i32.const -8)) (i32.const 1))))
        (block $vectorsDone
          (loop $vectors
            (br_if $vectorsDone (i32.ge_u (local.get $target) (local.get $vectorsEnd)))
            (local.set $sums (i32x4.add (local.get $sums)
              (i32x4.extadd_pairwise_i16x8_s (v128.load (local.get $target)))))
            (local.set $invalid (i32x4.sub (local.get $invalid)
              (i32x4.extadd_pairwise_i16x8_s (i16x8.eq (v128.load (local.get $target)) (local.get $marker)))))
            (local.set $target (i32.add (local.get $target) (i32.const 16)))
            (br $vectors)))
        (local.set $sum (call $lane_sum (local.get $sums)))
        (local.set $count (call $lane_sum (local.get $invalid)))
        ;; The last length % 8 samples.
        (block $tailDone
          (loop $tail
            (br_if $tailDone (i32.ge_u (local.get $target) (local.get $signalEnd)))
            (local.set $value (i32.load16_s (local.get $target)))
            (local.set $sum (i32.add (local.get $sum) (local.get $value)))
            (local.set $count (i32.add (local.get $count)
              (i32.eq (local.get $value) (i32.const -32768))))
            (local.set $target (i32.add (local.get $target) (i32.const 2)))
            (br $tail)))
        (i32.store (i32.add (local.get $totals) (i32.shl (local.get $signal) (i32.const 3))) (local.get $sum))
        (i32.store offset=4 (i32.add (local.get $totals) (i32.shl (local.get $signal) (i32.const 3)))
          (local.get $count))
        (local.set $signal (i32.add (local.get $signal) (i32.const 1)))
        (br $signals))))
)
