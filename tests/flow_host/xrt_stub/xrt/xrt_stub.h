// A stand-in for the few XRT classes the generated host uses (tests only; not the real API's
// full surface).  Buffers keep separate host and "device" copies, so a host that forgets a
// sync() reads stale data; the kernel call runs the kernel's C model through
// nbq_stub_kernel(), which the test links in (tests/flow_host/kernel_adapter.cpp).
#ifndef NBQ_XRT_STUB_H
#define NBQ_XRT_STUB_H

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

enum xclBOSyncDirection { XCL_BO_SYNC_BO_TO_DEVICE, XCL_BO_SYNC_BO_FROM_DEVICE };
enum ert_cmd_state { ERT_CMD_STATE_NEW = 1, ERT_CMD_STATE_QUEUED = 2, ERT_CMD_STATE_COMPLETED = 4 };

// The kernel's C model on device buffers (bytes as the kernel's m_axi ports see them).
void nbq_stub_kernel(const std::string& name, const std::vector<uint8_t>& in, std::vector<uint8_t>& out,
                     int n_images);

namespace xrt {

typedef int memory_group;

struct uuid {
    std::string xclbin;
};

class device {
  public:
    explicit device(unsigned int index) {
        if (index != 0) throw std::runtime_error("stub: no device " + std::to_string(index));
    }
    uuid load_xclbin(const std::string& path) {
        std::ifstream file(path.c_str());
        if (!file) throw std::runtime_error("stub: cannot open xclbin " + path);
        return uuid{path};
    }
};

class bo {
  public:
    bo(const device&, std::size_t size, memory_group group)
        : host_(new std::vector<uint8_t>(size, 0xa5)), device_(new std::vector<uint8_t>(size, 0x5a)),
          group_(group) {}
    void write(const void* src) { std::memcpy(host_->data(), src, host_->size()); }
    void read(void* dst) const { std::memcpy(dst, host_->data(), host_->size()); }
    void sync(xclBOSyncDirection direction) {
        if (direction == XCL_BO_SYNC_BO_TO_DEVICE) *device_ = *host_;
        else *host_ = *device_;
    }
    std::vector<uint8_t>& device_bytes() const { return *device_; }
    memory_group group() const { return group_; }

  private:
    std::shared_ptr<std::vector<uint8_t> > host_, device_;  // handles share the buffer, as in XRT
    memory_group group_;
};

class run {
  public:
    ert_cmd_state wait() const { return ERT_CMD_STATE_COMPLETED; }
};

class kernel {
  public:
    kernel(const device&, const uuid& id, const std::string& name) : name_(name) {
        if (id.xclbin.empty()) throw std::runtime_error("stub: no xclbin loaded");
    }
    memory_group group_id(int argument) const { return 100 + argument; }
    run operator()(const bo& in, const bo& out, int n_images) const {
        if (in.group() != group_id(0) || out.group() != group_id(1))
            throw std::runtime_error("stub: buffers not allocated in the kernel's memory groups");
        nbq_stub_kernel(name_, in.device_bytes(), out.device_bytes(), n_images);
        return run();
    }

  private:
    std::string name_;
};

}  // namespace xrt

#endif
