#include "kernel/function_types.h"

#include "kernel/flow_function.h"
#include "kernel/mirror_function.h"
#include "kernel/program_function.h"

namespace l3af::kernel {

namespace {

template <typename Spec>
Status loadAs(const plan::DesiredFunction& function, const std::filesystem::path& dir,
              Status (*load)(const Spec&, const std::filesystem::path&)) {
    const Spec* spec = std::get_if<Spec>(&function.spec);
    if (!spec)
        return fail(EINVAL, function.kind + " '" + function.name + "' has the wrong settings");
    return load(*spec, dir);
}

} // namespace

const std::vector<FunctionType>& functionTypes() {
    static const std::vector<FunctionType> types{
        {kFlowExporterKind, flowProgramFor,
         [](const plan::DesiredFunction& f, const std::filesystem::path& dir) {
             return loadAs<plan::FlowExporterSpec>(f, dir, loadFlowRevision);
         }},
        {kTunnelKind, tunnelProgramFor,
         [](const plan::DesiredFunction& f, const std::filesystem::path& dir) {
             return loadAs<plan::TunnelSpec>(f, dir, loadTunnelRevision);
         }},
        {kMirrorKind, mirrorProgramFor,
         [](const plan::DesiredFunction& f, const std::filesystem::path& dir) {
             return loadAs<plan::MirrorSpec>(f, dir, loadMirrorRevision);
         }},
        {kProgramKind, programProgramFor,
         [](const plan::DesiredFunction& f, const std::filesystem::path& dir) {
             // The function's maps live beside its revisions (pin-layout.md).
             return loadAs<plan::ProgramSpec>(
                 f, dir, +[](const plan::ProgramSpec& spec, const std::filesystem::path& d) {
                     return loadProgramRevision(spec, d, d.parent_path() / "maps");
                 });
         }},
    };
    return types;
}

const FunctionType* functionType(std::string_view kind) {
    for (const FunctionType& type : functionTypes()) {
        if (kind == type.kind)
            return &type;
    }
    return nullptr;
}

} // namespace l3af::kernel
