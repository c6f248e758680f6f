// The one piece of CLBlast's API that only its C++ header has: reading the parameters in
// effect for a kernel (clblast::RetrieveParameters). The GEMM search needs it to put CLBlast's
// own parameters back after trying others; the C API can only override them. Errors are
// CLBlast status codes, turned into messages by the C caller (gemm_tuning.c).
#include <clblast.h>

#include <exception>
#include <string>
#include <unordered_map>

#include "gemm/clblast_retrieve.h"

int bt_clblast_retrieve(cl_device_id device, const char *kernel, const char *const *names,
                        size_t count, size_t *values)
{
    try {
        std::unordered_map<std::string, size_t> parameters;
        clblast::StatusCode status = clblast::RetrieveParameters(
            device, kernel, clblast::Precision::kSingle, parameters);
        if (status != clblast::StatusCode::kSuccess)
            return static_cast<int>(status);
        for (size_t i = 0; i < count; ++i) {
            auto found = parameters.find(names[i]);
            if (found == parameters.end())
                return static_cast<int>(clblast::StatusCode::kMissingOverrideParameter);
            values[i] = found->second;
        }
        return 0;
    } catch (const std::exception &) {
        // RetrieveParameters catches its own; this covers the map (out of memory).
        return static_cast<int>(clblast::StatusCode::kUnknownError);
    }
}
