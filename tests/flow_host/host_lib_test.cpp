// Unit tests of hw/host/nbq_host.h (run by tests/test_flow_host.py).
// Usage: host_lib_test SCRATCH_DIR   -- prints one line per failed check, then "HOST-LIB checks=N failures=M".
#include <cstdio>
#include <string>
#include <vector>

#include "nbq_host.h"

using namespace nbq_host;

static int checks = 0, failures = 0;

#define CHECK(cond)                                                        \
    do {                                                                   \
        checks++;                                                          \
        if (!(cond)) {                                                     \
            failures++;                                                    \
            std::printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);     \
        }                                                                  \
    } while (0)

static Batch make_batch(uint32_t images, uint32_t values, int64_t lo, int64_t hi, uint32_t seed) {
    Batch b(images, values);
    uint64_t state = 0x9E3779B97F4A7C15ULL ^ seed;
    const uint64_t span = uint64_t(hi - lo) + 1;
    for (size_t i = 0; i < b.data.size(); i++) {
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        b.data[i] = lo + int64_t((state >> 11) % span);
    }
    b.data[0] = lo;  // the extremes are always present
    b.data[b.data.size() - 1] = hi;
    return b;
}

static void test_file_round_trip(const std::string& dir) {
    std::string error;
    const Batch small = make_batch(3, 7, -128, 127, 1);
    const std::string path = dir + "/small.bin";
    CHECK(write_batch(path, small, error));
    Batch back;
    CHECK(read_batch(path, back, error));
    CHECK(back.images == 3 && back.values == 7 && back.data == small.data);
    std::vector<uint8_t> bytes;
    CHECK(read_file(path, bytes, error));
    CHECK(bytes.size() == kBatchHeaderBytes + 3 * 7 * 4);  // int32 values when they fit
    CHECK(bytes[16] == 4 && bytes[0] == 'N' && bytes[3] == 'B' && bytes[8] == 3 && bytes[12] == 7);
    CHECK(bytes[20] == 0x80 && bytes[21] == 0xff && bytes[22] == 0xff && bytes[23] == 0xff);  // -128, little-endian

    Batch wide(2, 2);
    wide.data = {int64_t(1) << 40, -(int64_t(1) << 40), -1, 0};
    CHECK(write_batch(dir + "/wide.bin", wide, error));
    CHECK(read_batch(dir + "/wide.bin", back, error));
    CHECK(back.data == wide.data);
    CHECK(read_file(dir + "/wide.bin", bytes, error) && bytes[16] == 8 && bytes.size() == kBatchHeaderBytes + 32);

    // corrupt files are errors with a message, never garbage
    std::vector<uint8_t> good = encode_batch(small);
    std::vector<uint8_t> bad = good;
    bad[1] = 'X';
    CHECK(!decode_batch(bad, back, error) && error.find("NBQB") != std::string::npos);
    bad = good;
    bad.pop_back();
    CHECK(!decode_batch(bad, back, error) && error.find("header promises") != std::string::npos);
    bad = good;
    bad[16] = 2;
    CHECK(!decode_batch(bad, back, error) && error.find("value size") != std::string::npos);
    bad = good;
    bad[4] = 9;
    CHECK(!decode_batch(bad, back, error) && error.find("version") != std::string::npos);
    CHECK(!read_batch(dir + "/missing.bin", back, error) && error.find("cannot open") != std::string::npos);
    Batch empty(0, 5);
    CHECK(decode_batch(encode_batch(empty), back, error) && back.images == 0 && back.values == 5);
}

static void test_fits() {
    CHECK(fits(127, 8, true) && fits(-128, 8, true) && !fits(128, 8, true) && !fits(-129, 8, true));
    CHECK(fits(255, 8, false) && !fits(256, 8, false) && !fits(-1, 8, false));
    CHECK(fits(INT64_MIN, 64, true) && fits(INT64_MAX, 64, false) && !fits(-1, 64, false));
    CHECK(fits(-(int64_t(1) << 31), 32, true) && !fits(int64_t(1) << 31, 32, true));
}

// Pack -> unpack is the identity for every lane width, sign and padding case.
static void test_pack_round_trip() {
    const int lane_bits[] = {8, 16, 32, 64};
    const int word_bits[] = {64, 256, 512};
    const uint32_t sizes[] = {1, 5, 32, 33, 100};
    for (int lb : lane_bits)
        for (int wb : word_bits)
            for (uint32_t values : sizes)
                for (int s = 0; s < 2; s++) {
                    if (wb < lb) continue;
                    const bool is_signed = s == 1;
                    const int64_t hi = lb == 64 ? INT64_MAX : (is_signed ? (int64_t(1) << (lb - 1)) - 1
                                                                         : (int64_t(1) << lb) - 1);
                    const int64_t lo = is_signed ? (lb == 64 ? INT64_MIN : -(int64_t(1) << (lb - 1))) : 0;
                    const Batch b = make_batch(3, values, lo, lo < hi - 1000 ? lo + 1000 : hi, values + lb);
                    Batch extremes = b;
                    extremes.at(1, 0) = hi;
                    extremes.at(2, values - 1) = lo;
                    const WordFormat f = {lb, wb, is_signed};
                    std::vector<uint8_t> bytes;
                    std::string error;
                    CHECK(pack(extremes, f, bytes, error));
                    CHECK(bytes.size() == 3 * f.words_per_image(values) * size_t(wb / 8));
                    Batch back;
                    CHECK(unpack(bytes, 3, values, f, back, error));
                    CHECK(back.data == extremes.data);
                }
}

static void test_pack_layout() {
    // 5 int8 values in 64-bit words (8 lanes): one word per image, lanes = consecutive bytes, zero padding
    Batch b(2, 5);
    b.data = {1, -1, 2, -2, 127, -128, 0, 3, 4, 5};
    const WordFormat f = {8, 64, true};
    CHECK(f.lanes() == 8 && f.words_per_image(5) == 1 && f.bytes_per_image(5) == 8);
    std::vector<uint8_t> bytes;
    std::string error;
    CHECK(pack(b, f, bytes, error));
    const uint8_t want[] = {1, 0xff, 2, 0xfe, 127, 0, 0, 0, 0x80, 0, 3, 4, 5, 0, 0, 0};
    CHECK(bytes.size() == sizeof want && std::memcmp(bytes.data(), want, sizeof want) == 0);

    // 16-bit lanes in 256-bit words: 16 lanes, 17 values take two words; value 16 opens word 1
    Batch c(1, 17);
    for (uint32_t i = 0; i < 17; i++) c.at(0, i) = 1000 + i;
    const WordFormat g = {16, 256, false};
    CHECK(pack(c, g, bytes, error) && bytes.size() == 64);
    CHECK(bytes[32] == (1016 & 0xff) && bytes[33] == (1016 >> 8) && bytes[34] == 0 && bytes[63] == 0);
    CHECK(bytes[2] == (1001 & 0xff) && bytes[3] == (1001 >> 8));

    // unsigned read-back of a lane with the top bit set stays positive; signed sign-extends
    Batch one;
    std::vector<uint8_t> raw(8, 0);
    raw[0] = 0xff;
    CHECK(unpack(raw, 1, 1, WordFormat{8, 64, false}, one, error) && one.data[0] == 255);
    CHECK(unpack(raw, 1, 1, WordFormat{8, 64, true}, one, error) && one.data[0] == -1);
}

static void test_pack_errors() {
    std::vector<uint8_t> bytes;
    std::string error;
    Batch b(1, 3);
    b.data = {0, 200, 1};
    CHECK(!pack(b, WordFormat{8, 64, true}, bytes, error) && error.find("value 1 = 200") != std::string::npos);
    b.data = {0, -1, 1};
    CHECK(!pack(b, WordFormat{8, 64, false}, bytes, error) && error.find("unsigned") != std::string::npos);
    CHECK(!pack(b, WordFormat{12, 64, false}, bytes, error) && error.find("bad word format") != std::string::npos);
    CHECK(!pack(b, WordFormat{64, 32, false}, bytes, error));
    // a dirty padding byte or a short buffer is reported
    std::vector<uint8_t> raw(8, 0);
    raw[7] = 1;
    Batch out;
    CHECK(!unpack(raw, 1, 3, WordFormat{8, 64, false}, out, error) && error.find("padding") != std::string::npos);
    CHECK(!unpack(raw, 2, 3, WordFormat{8, 64, false}, out, error) && error.find("need 16") != std::string::npos);
}

static void test_compare_and_repeat() {
    const Batch golden = make_batch(4, 10, -50, 50, 7);
    CheckResult r = compare(golden, golden, 20);
    CHECK(r.passed() && r.compared == 40 && r.first.empty());

    Batch got = repeat(golden, 3);
    CHECK(got.images == 12 && got.at(9, 4) == golden.at(1, 4));
    r = compare(golden, got, 20);
    CHECK(r.passed() && r.compared == 120);

    got.at(6, 3) += 1;  // image 6 = golden image 2
    got.at(11, 9) = -999;
    r = compare(golden, got, 20);
    CHECK(!r.passed() && r.mismatches == 2 && r.first.size() == 2);
    CHECK(r.first[0].image == 6 && r.first[0].index == 3 && r.first[0].expected == golden.at(2, 3) &&
          r.first[0].got == golden.at(2, 3) + 1);
    CHECK(r.first[1].image == 11 && r.first[1].index == 9 && r.first[1].got == -999);
    r = compare(golden, got, 1);  // only the first is kept, all are counted
    CHECK(r.mismatches == 2 && r.first.size() == 1);

    Batch other(4, 9);
    CHECK(!compare(golden, other, 5).passed());  // shapes differ: never a pass
    CHECK(!compare(Batch(0, 10), got, 5).passed());
}

static void test_timing() {
    CHECK(frames_per_second(1000, 0.5) == 2000.0);
    CHECK(frames_per_second(3, 0.0) == 0.0);
    CHECK(frames_per_second(0, 1.0) == 0.0);
    const std::string line = summary_line(1000, 0, 0.25, 0.5);
    CHECK(line == "NBQ-HOST images=1000 mismatches=0 kernel_s=0.250000 kernel_fps=4000.0 total_s=0.500000 "
                  "total_fps=2000.0");
    Stopwatch sw;
    volatile double sink = 0;
    for (int i = 0; i < 100000; i++) sink = sink + i;
    const double s = sw.seconds();
    CHECK(s >= 0.0 && s < 10.0);
}

static void test_args() {
    std::string error;
    Options opt;
    opt.xclbin = "k.xclbin";
    const char* none[] = {"host"};
    CHECK(parse_args(1, none, opt, error) && opt.xclbin == "k.xclbin" && opt.repeat == 1 && !opt.help);

    const char* all[] = {"host", "--xclbin", "a.xclbin", "-i", "in.bin", "--golden", "g.bin",
                         "-d", "2", "--repeat", "50", "--max-reported", "0"};
    CHECK(parse_args(13, all, opt, error));
    CHECK(opt.xclbin == "a.xclbin" && opt.inputs == "in.bin" && opt.golden == "g.bin" && opt.device == 2 &&
          opt.repeat == 50 && opt.max_reported == 0);

    Options o2;
    const char* help[] = {"host", "--help"};
    CHECK(parse_args(2, help, o2, error) && o2.help);
    const char* unknown[] = {"host", "--fast"};
    CHECK(!parse_args(2, unknown, o2, error) && error.find("unknown option '--fast'") != std::string::npos);
    const char* missing[] = {"host", "--repeat"};
    CHECK(!parse_args(2, missing, o2, error) && error.find("needs a value") != std::string::npos);
    const char* zero[] = {"host", "--repeat", "0"};
    CHECK(!parse_args(3, zero, o2, error) && error.find("--repeat") != std::string::npos);
    const char* word[] = {"host", "-d", "one"};
    CHECK(!parse_args(3, word, o2, error) && error.find("--device") != std::string::npos);
    const char* negative[] = {"host", "-r", "-5"};
    CHECK(!parse_args(3, negative, o2, error));
    CHECK(usage("host", opt).find("--xclbin FILE") != std::string::npos);
}

int main(int argc, char** argv) {
    const std::string dir = argc > 1 ? argv[1] : ".";
    test_file_round_trip(dir);
    test_fits();
    test_pack_round_trip();
    test_pack_layout();
    test_pack_errors();
    test_compare_and_repeat();
    test_timing();
    test_args();
    std::printf("HOST-LIB checks=%d failures=%d\n", checks, failures);
    return failures == 0 ? 0 : 1;
}
