// nbq host library: everything an nbq accelerator host needs that does not talk to XRT.
//
// Header-only, C++14, no dependencies beyond the standard library, so it is compiled and
// unit-tested without Xilinx tools; nbq copies it into every U280 project as host/nbq_host.h,
// where the generated host/host.cpp adds the XRT calls (device, kernel, buffers, run).
//
//   batch files   tb_data/inputs.bin, tb_data/golden.bin (format below)
//   bus words     packing values into the kernel's m_axi words and back
//   checking      bit-exact comparison with the golden outputs
//   timing        a stopwatch and frames/s
//   arguments     the host's command line
//
// Batch file (every field little-endian):
//   bytes 0..3    magic "NBQB"
//   bytes 4..7    uint32 format version (1)
//   bytes 8..11   uint32 images
//   bytes 12..15  uint32 values per image
//   bytes 16..19  uint32 bytes per value: 4 or 8
//   bytes 20..    images x values two's-complement integers, each image's values in stream order
//                 (feature maps channels-last: H, W, C with C fastest)
//
// Bus words (the kernel's view of HBM): word_bits wide, lanes = word_bits / lane_bits values
// per word; value i of an image sits in lane i % lanes of word i / lanes, lane k occupying bits
// [k * lane_bits, (k + 1) * lane_bits) of the word.  Every image starts on a new word and unused
// lanes are zero.  Values are sign-extended to the lane width when signed.  A word is stored
// little-endian, so with 8/16/32/64-bit lanes a packed buffer is simply an array of int8_t ..
// int64_t with zero padding at the end of each image.
#ifndef NBQ_HOST_H
#define NBQ_HOST_H

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace nbq_host {

// ------------------------------------------------------------------ batches

// images x values integers, one image after the other, values in stream order.
struct Batch {
    uint32_t images;
    uint32_t values;  // per image
    std::vector<int64_t> data;

    Batch() : images(0), values(0) {}
    Batch(uint32_t n_images, uint32_t n_values)
        : images(n_images), values(n_values), data(size_t(n_images) * n_values, 0) {}
    int64_t at(uint32_t image, uint32_t index) const { return data[size_t(image) * values + index]; }
    int64_t& at(uint32_t image, uint32_t index) { return data[size_t(image) * values + index]; }
};

// The batch `times` times over (to time the kernel on more frames than the golden set holds).
inline Batch repeat(const Batch& batch, uint32_t times) {
    Batch out(batch.images * times, batch.values);
    for (uint32_t t = 0; t < times; t++)
        std::copy(batch.data.begin(), batch.data.end(), out.data.begin() + size_t(t) * batch.data.size());
    return out;
}

// ------------------------------------------------------------------ batch files

static const uint32_t kBatchVersion = 1;
static const size_t kBatchHeaderBytes = 20;

namespace detail {

inline void put_le(std::vector<uint8_t>& bytes, uint64_t value, int n) {
    for (int i = 0; i < n; i++) bytes.push_back(uint8_t(value >> (8 * i)));
}

inline uint64_t get_le(const uint8_t* bytes, int n) {
    uint64_t value = 0;
    for (int i = 0; i < n; i++) value |= uint64_t(bytes[i]) << (8 * i);
    return value;
}

// The n-byte two's-complement value `raw` as a signed integer.
inline int64_t sign_extend(uint64_t raw, int bits) {
    if (bits >= 64) return int64_t(raw);
    const uint64_t mask = (uint64_t(1) << bits) - 1;
    raw &= mask;
    const uint64_t sign = uint64_t(1) << (bits - 1);
    return (raw & sign) ? int64_t(raw | ~mask) : int64_t(raw);
}

}  // namespace detail

// True if `value` is representable in `bits` bits (two's complement when is_signed).
inline bool fits(int64_t value, int bits, bool is_signed) {
    if (bits >= 64) return is_signed || value >= 0;
    if (is_signed) {
        const int64_t half = int64_t(1) << (bits - 1);
        return value >= -half && value < half;
    }
    return value >= 0 && uint64_t(value) < (uint64_t(1) << bits);
}

// The file's bytes (4-byte values when every value fits, else 8).
inline std::vector<uint8_t> encode_batch(const Batch& batch) {
    uint32_t value_bytes = 4;
    for (size_t i = 0; i < batch.data.size(); i++)
        if (!fits(batch.data[i], 32, true)) value_bytes = 8;
    std::vector<uint8_t> bytes;
    bytes.reserve(kBatchHeaderBytes + batch.data.size() * value_bytes);
    bytes.insert(bytes.end(), {'N', 'B', 'Q', 'B'});
    detail::put_le(bytes, kBatchVersion, 4);
    detail::put_le(bytes, batch.images, 4);
    detail::put_le(bytes, batch.values, 4);
    detail::put_le(bytes, value_bytes, 4);
    for (size_t i = 0; i < batch.data.size(); i++) detail::put_le(bytes, uint64_t(batch.data[i]), int(value_bytes));
    return bytes;
}

inline bool decode_batch(const std::vector<uint8_t>& bytes, Batch& out, std::string& error) {
    if (bytes.size() < kBatchHeaderBytes || std::memcmp(bytes.data(), "NBQB", 4) != 0) {
        error = "not an nbq batch file (no NBQB header)";
        return false;
    }
    const uint64_t version = detail::get_le(&bytes[4], 4);
    const uint64_t images = detail::get_le(&bytes[8], 4);
    const uint64_t values = detail::get_le(&bytes[12], 4);
    const uint64_t value_bytes = detail::get_le(&bytes[16], 4);
    if (version != kBatchVersion) {
        error = "unsupported batch file version " + std::to_string(version);
        return false;
    }
    if (value_bytes != 4 && value_bytes != 8) {
        error = "unsupported value size " + std::to_string(value_bytes) + " bytes (4 or 8)";
        return false;
    }
    const uint64_t count = images * values;  // < 2^64: both are 32-bit
    const uint64_t expected = kBatchHeaderBytes + count * value_bytes;
    if (count > bytes.size() || bytes.size() != expected) {
        error = "file holds " + std::to_string(bytes.size()) + " bytes, the header promises " +
                std::to_string(expected);
        return false;
    }
    Batch batch{uint32_t(images), uint32_t(values)};
    const uint8_t* p = &bytes[kBatchHeaderBytes];
    for (size_t i = 0; i < batch.data.size(); i++, p += value_bytes)
        batch.data[i] = detail::sign_extend(detail::get_le(p, int(value_bytes)), int(8 * value_bytes));
    out = batch;
    return true;
}

inline bool read_file(const std::string& path, std::vector<uint8_t>& bytes, std::string& error) {
    std::ifstream file(path.c_str(), std::ios::binary);
    if (!file) {
        error = "cannot open " + path;
        return false;
    }
    bytes.assign(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
    return true;
}

inline bool read_batch(const std::string& path, Batch& out, std::string& error) {
    std::vector<uint8_t> bytes;
    if (!read_file(path, bytes, error)) return false;
    if (!decode_batch(bytes, out, error)) {
        error = path + ": " + error;
        return false;
    }
    return true;
}

inline bool write_batch(const std::string& path, const Batch& batch, std::string& error) {
    const std::vector<uint8_t> bytes = encode_batch(batch);
    std::ofstream file(path.c_str(), std::ios::binary);
    file.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    if (!file) {
        error = "cannot write " + path;
        return false;
    }
    return true;
}

// ------------------------------------------------------------------ bus words

struct WordFormat {
    int lane_bits;   // bits per value on the bus: 8, 16, 32 or 64
    int word_bits;   // bits per bus word (the m_axi data width), a multiple of lane_bits
    bool is_signed;  // values sign-extended to the lane (outputs read back as signed)

    int lanes() const { return word_bits / lane_bits; }
    size_t word_bytes() const { return size_t(word_bits) / 8; }
    size_t words_per_image(uint32_t values) const { return (values + lanes() - 1) / lanes(); }
    size_t bytes_per_image(uint32_t values) const { return words_per_image(values) * word_bytes(); }
};

inline bool valid_format(const WordFormat& f, std::string& error) {
    const bool lane_ok = f.lane_bits == 8 || f.lane_bits == 16 || f.lane_bits == 32 || f.lane_bits == 64;
    if (!lane_ok || f.word_bits <= 0 || f.word_bits % f.lane_bits != 0) {
        error = "bad word format: lanes of " + std::to_string(f.lane_bits) + " bits in " +
                std::to_string(f.word_bits) + "-bit words";
        return false;
    }
    return true;
}

// The device buffer for `batch`; fails (naming the value) if a value does not fit a lane.
inline bool pack(const Batch& batch, const WordFormat& f, std::vector<uint8_t>& bytes, std::string& error) {
    if (!valid_format(f, error)) return false;
    const size_t per_image = f.bytes_per_image(batch.values);
    const int lane_bytes = f.lane_bits / 8;
    bytes.assign(per_image * batch.images, 0);
    for (uint32_t n = 0; n < batch.images; n++)
        for (uint32_t i = 0; i < batch.values; i++) {
            const int64_t v = batch.at(n, i);
            if (!fits(v, f.lane_bits, f.is_signed)) {
                error = "image " + std::to_string(n) + " value " + std::to_string(i) + " = " + std::to_string(v) +
                        " does not fit a " + std::to_string(f.lane_bits) + "-bit " +
                        (f.is_signed ? "signed" : "unsigned") + " lane";
                return false;
            }
            uint8_t* p = &bytes[n * per_image + size_t(i) * lane_bytes];  // lanes are consecutive bytes
            for (int b = 0; b < lane_bytes; b++) p[b] = uint8_t(uint64_t(v) >> (8 * b));
        }
    return true;
}

// The values of `images` images read back from a device buffer; unused lanes must be zero.
inline bool unpack(const std::vector<uint8_t>& bytes, uint32_t images, uint32_t values, const WordFormat& f,
                   Batch& out, std::string& error) {
    if (!valid_format(f, error)) return false;
    const size_t per_image = f.bytes_per_image(values);
    const int lane_bytes = f.lane_bits / 8;
    if (bytes.size() < per_image * images) {
        error = "buffer holds " + std::to_string(bytes.size()) + " bytes, " + std::to_string(images) +
                " images need " + std::to_string(per_image * images);
        return false;
    }
    Batch batch(images, values);
    for (uint32_t n = 0; n < images; n++) {
        const uint8_t* image = &bytes[n * per_image];
        for (uint32_t i = 0; i < values; i++) {
            const uint64_t raw = detail::get_le(image + size_t(i) * lane_bytes, lane_bytes);
            batch.at(n, i) = f.is_signed ? detail::sign_extend(raw, f.lane_bits) : int64_t(raw);
        }
        for (size_t b = size_t(values) * lane_bytes; b < per_image; b++)
            if (image[b] != 0) {
                error = "image " + std::to_string(n) + ": padding byte " + std::to_string(b) + " is not zero";
                return false;
            }
    }
    out = batch;
    return true;
}

// ------------------------------------------------------------------ checking

struct Mismatch {
    uint32_t image;
    uint32_t index;
    int64_t expected;
    int64_t got;
};

struct CheckResult {
    uint64_t compared;    // values compared
    uint64_t mismatches;  // values that differ
    std::vector<Mismatch> first;  // the first max_reported of them
    CheckResult() : compared(0), mismatches(0) {}
    bool passed() const { return mismatches == 0 && compared > 0; }
};

// Image n of `got` against image n % golden.images of `golden` (so a repeated batch checks too).
inline CheckResult compare(const Batch& golden, const Batch& got, size_t max_reported) {
    CheckResult result;
    if (golden.images == 0 || golden.values != got.values) {
        result.mismatches = 1;  // nothing comparable: a failure, never a silent pass
        return result;
    }
    for (uint32_t n = 0; n < got.images; n++)
        for (uint32_t i = 0; i < got.values; i++) {
            const int64_t expected = golden.at(n % golden.images, i);
            const int64_t value = got.at(n, i);
            result.compared++;
            if (value != expected) {
                if (result.first.size() < max_reported) result.first.push_back(Mismatch{n, i, expected, value});
                result.mismatches++;
            }
        }
    return result;
}

inline void print_mismatches(std::FILE* out, const CheckResult& result) {
    for (size_t k = 0; k < result.first.size(); k++) {
        const Mismatch& m = result.first[k];
        std::fprintf(out, "MISMATCH image=%u index=%u expected=%lld got=%lld\n", m.image, m.index,
                     static_cast<long long>(m.expected), static_cast<long long>(m.got));
    }
    if (result.mismatches > result.first.size())
        std::fprintf(out, "... and %llu more mismatching values\n",
                     static_cast<unsigned long long>(result.mismatches - result.first.size()));
}

// ------------------------------------------------------------------ timing

inline double frames_per_second(uint64_t frames, double seconds) {
    return seconds > 0.0 ? double(frames) / seconds : 0.0;
}

class Stopwatch {
  public:
    Stopwatch() : start_(std::chrono::steady_clock::now()) {}
    void restart() { start_ = std::chrono::steady_clock::now(); }
    double seconds() const {
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    }

  private:
    std::chrono::steady_clock::time_point start_;
};

// The machine-readable last line of a host run.
inline std::string summary_line(uint64_t images, uint64_t mismatches, double kernel_seconds, double total_seconds) {
    char line[256];
    std::snprintf(line, sizeof line,
                  "NBQ-HOST images=%llu mismatches=%llu kernel_s=%.6f kernel_fps=%.1f total_s=%.6f total_fps=%.1f",
                  static_cast<unsigned long long>(images), static_cast<unsigned long long>(mismatches),
                  kernel_seconds, frames_per_second(images, kernel_seconds), total_seconds,
                  frames_per_second(images, total_seconds));
    return line;
}

// ------------------------------------------------------------------ command line

struct Options {
    std::string xclbin;
    std::string inputs;
    std::string golden;
    unsigned device;
    uint32_t repeat;        // run the batch this many times over in one kernel call
    uint32_t max_reported;  // mismatches printed
    bool help;
    Options() : device(0), repeat(1), max_reported(20), help(false) {}
};

namespace detail {

inline bool parse_count(const std::string& text, uint64_t max, uint64_t& value) {
    if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos || text.size() > 12) return false;
    value = std::strtoull(text.c_str(), nullptr, 10);
    return value <= max;
}

}  // namespace detail

// Fills `opt` (whose fields hold the defaults) from argv; false with a one-line error on bad input.
inline bool parse_args(int argc, const char* const* argv, Options& opt, std::string& error) {
    for (int k = 1; k < argc; k++) {
        const std::string arg = argv[k];
        if (arg == "-h" || arg == "--help") {
            opt.help = true;
            continue;
        }
        const bool known = arg == "-x" || arg == "--xclbin" || arg == "-i" || arg == "--inputs" || arg == "-g" ||
                           arg == "--golden" || arg == "-d" || arg == "--device" || arg == "-r" ||
                           arg == "--repeat" || arg == "--max-reported";
        if (!known) {
            error = "unknown option '" + arg + "' (try --help)";
            return false;
        }
        if (k + 1 >= argc) {
            error = "option " + arg + " needs a value";
            return false;
        }
        const std::string value = argv[++k];
        uint64_t number = 0;
        if (arg == "-x" || arg == "--xclbin") {
            opt.xclbin = value;
        } else if (arg == "-i" || arg == "--inputs") {
            opt.inputs = value;
        } else if (arg == "-g" || arg == "--golden") {
            opt.golden = value;
        } else if (arg == "-d" || arg == "--device") {
            if (!detail::parse_count(value, 1024, number)) {
                error = "--device takes a device index, got '" + value + "'";
                return false;
            }
            opt.device = unsigned(number);
        } else if (arg == "-r" || arg == "--repeat") {
            if (!detail::parse_count(value, 1000000, number) || number == 0) {
                error = "--repeat takes a count from 1 to 1000000, got '" + value + "'";
                return false;
            }
            opt.repeat = uint32_t(number);
        } else {
            if (!detail::parse_count(value, 1000000, number)) {
                error = "--max-reported takes a count, got '" + value + "'";
                return false;
            }
            opt.max_reported = uint32_t(number);
        }
    }
    return true;
}

inline std::string usage(const char* program, const Options& defaults) {
    return std::string("usage: ") + program +
           " [--xclbin FILE] [--inputs FILE] [--golden FILE] [--device N] [--repeat N] [--max-reported N]\n"
           "  --xclbin FILE      device binary [" + defaults.xclbin + "]\n"
           "  --inputs FILE      input batch (NBQB file) [" + defaults.inputs + "]\n"
           "  --golden FILE      expected outputs (NBQB file) [" + defaults.golden + "]\n"
           "  --device N         XRT device index [" + std::to_string(defaults.device) + "]\n"
           "  --repeat N         send the batch N times in one run, for timing [" +
           std::to_string(defaults.repeat) + "]\n"
           "  --max-reported N   mismatches printed [" + std::to_string(defaults.max_reported) + "]\n"
           "Last line: NBQ-HOST images=N mismatches=M kernel_s=... kernel_fps=... total_s=... total_fps=...\n"
           "Exit code 0 if and only if M == 0.\n";
}

}  // namespace nbq_host

#endif
