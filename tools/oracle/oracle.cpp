// dlib-oracle: the numerical reference for studio's native Swift face pipeline.
//
// It runs dlib 19.24 itself (Debian's libdlib-dev) on the same models the Swift port
// loads, and prints what dlib computes, so that tests can compare against it. Nothing
// here is a re-implementation: every number comes from a dlib call. See README.md.
//
// Build: tools/oracle/build.sh   (g++ -O3 -march=native -std=c++17 ... -ldlib -lopenblas)
//
// Subcommands (all take --models DIR, default $STUDIO_HOME/models, STUDIO_HOME default ~/.studio):
//   faces       [--upsample N] [--chips OUTDIR] [--chip-names basename|path] [--chip-details] IMAGE...
//   aligned     IMAGE...                     (150x150 chips -> descriptors)
//   chip        [--chips OUTDIR] IMAGE X1 Y1 ... X5 Y5   (chip + descriptor from given landmarks)
//   chip-pinv   ROWS COLS                    (pinv of the chip corners, as extract_image_chips uses it)
//   dump-mmod   [--upsample N] [--adjust-threshold T] IMAGE OUTDIR
//   dump-resnet CHIP OUTDIR
//   bench       [--repeat R] [--upsample N] IMAGE...
//   info        (versions, thread counts, model options)
//   dims        IMAGE...                     (sizes, for choosing an upsample per image)
// Exit status: 0 ok, 2 on any error (unreadable image, missing model, bad usage).

#include <dlib/dnn.h>
#include <dlib/image_io.h>
#include <dlib/image_processing.h>
#include <dlib/image_transforms.h>
#include <dlib/threads.h>
#include <dlib/revision.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <cxxabi.h>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <vector>

extern "C" {
int openblas_get_num_threads(void);
char* openblas_get_config(void);
}

using namespace dlib;

// ----------------------------------------------------------------------------------------
// Network definitions (dlib's examples/dnn_mmod_face_detection_ex.cpp and
// examples/dnn_face_recognition_ex.cpp; also tools/python/src/cnn_face_detector.cpp).

namespace mmod {
template <long num_filters, typename SUBNET> using con5d = con<num_filters, 5, 5, 2, 2, SUBNET>;
template <long num_filters, typename SUBNET> using con5 = con<num_filters, 5, 5, 1, 1, SUBNET>;
template <typename SUBNET>
using downsampler = relu<affine<con5d<32, relu<affine<con5d<32, relu<affine<con5d<16, SUBNET>>>>>>>>>;
template <typename SUBNET> using rcon5 = relu<affine<con5<45, SUBNET>>>;
using net_type = loss_mmod<con<1, 9, 9, 1, 1, rcon5<rcon5<rcon5<downsampler<input_rgb_image_pyramid<pyramid_down<6>>>>>>>>;
}  // namespace mmod

namespace resnet {
template <template <int, template <typename> class, int, typename> class block, int N,
          template <typename> class BN, typename SUBNET>
using residual = add_prev1<block<N, BN, 1, tag1<SUBNET>>>;
template <template <int, template <typename> class, int, typename> class block, int N,
          template <typename> class BN, typename SUBNET>
using residual_down = add_prev2<avg_pool<2, 2, 2, 2, skip1<tag2<block<N, BN, 2, tag1<SUBNET>>>>>>;
template <int N, template <typename> class BN, int stride, typename SUBNET>
using block = BN<con<N, 3, 3, 1, 1, relu<BN<con<N, 3, 3, stride, stride, SUBNET>>>>>;
template <int N, typename SUBNET> using ares = relu<residual<block, N, affine, SUBNET>>;
template <int N, typename SUBNET> using ares_down = relu<residual_down<block, N, affine, SUBNET>>;
template <typename SUBNET> using alevel0 = ares_down<256, SUBNET>;
template <typename SUBNET> using alevel1 = ares<256, ares<256, ares_down<256, SUBNET>>>;
template <typename SUBNET> using alevel2 = ares<128, ares<128, ares_down<128, SUBNET>>>;
template <typename SUBNET> using alevel3 = ares<64, ares<64, ares<64, ares_down<64, SUBNET>>>>;
template <typename SUBNET> using alevel4 = ares<32, ares<32, ares<32, SUBNET>>>;
using net_type = loss_metric<fc_no_bias<128, avg_pool_everything<alevel0<alevel1<alevel2<alevel3<alevel4<
    max_pool<3, 3, 2, 2, relu<affine<con<32, 7, 7, 2, 2, input_rgb_image_sized<150>>>>>>>>>>>>>;
}  // namespace resnet

// ----------------------------------------------------------------------------------------
// Errors: everything we expect to go wrong becomes a usage_error / dlib::error and exit 2.

struct oracle_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

static std::string fmt_g9(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.9g", v);
    return buf;
}

static std::string fmt_g17(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    return buf;
}

static std::string json_str(const std::string& s) {
    std::string o = "\"";
    for (unsigned char ch : s) {
        switch (ch) {
            case '"': o += "\\\""; break;
            case '\\': o += "\\\\"; break;
            case '\n': o += "\\n"; break;
            case '\r': o += "\\r"; break;
            case '\t': o += "\\t"; break;
            default:
                if (ch < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", ch);
                    o += buf;
                } else {
                    o += char(ch);
                }
        }
    }
    return o + "\"";
}

static std::string json_floats(const float* p, size_t n) {
    std::string o = "[";
    for (size_t i = 0; i < n; ++i) {
        if (i) o += ",";
        o += fmt_g9(p[i]);
    }
    return o + "]";
}

static std::string json_rect(const rectangle& r) {
    std::ostringstream o;
    o << "[" << r.left() << "," << r.top() << "," << r.right() << "," << r.bottom() << "]";
    return o.str();
}

static std::string json_drect(const drectangle& r) {
    return "[" + fmt_g9(r.left()) + "," + fmt_g9(r.top()) + "," + fmt_g9(r.right()) + "," + fmt_g9(r.bottom()) + "]";
}

static std::string dlib_version() {
    std::ostringstream o;
    o << DLIB_MAJOR_VERSION << "." << DLIB_MINOR_VERSION;
    if (DLIB_PATCH_VERSION != 0) o << "." << DLIB_PATCH_VERSION;
    return o.str();
}

static std::string openblas_config() {
    const char* c = openblas_get_config();
    std::string s = c ? c : "";
    while (!s.empty() && (s.back() == ' ' || s.back() == '\n')) s.pop_back();
    return s;
}

static bool is_regular_file(const std::string& p) {
    struct stat st;
    return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

static bool dir_exists(const std::string& p) {
    struct stat st;
    return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

static void make_dirs(const std::string& p) {
    if (p.empty() || dir_exists(p)) return;
    auto slash = p.find_last_of('/');
    if (slash != std::string::npos && slash > 0) make_dirs(p.substr(0, slash));
    if (::mkdir(p.c_str(), 0755) != 0 && !dir_exists(p))
        throw oracle_error("cannot create directory " + p + ": " + std::strerror(errno));
}

// ----------------------------------------------------------------------------------------
// Command line

struct options {
    std::string cmd;
    std::string models;
    int upsample = 0;
    bool upsample_given = false;
    int repeat = 10;
    std::string chips_dir;
    std::string chip_names = "basename";
    bool chip_details = false;
    double adjust_threshold = 0;
    std::vector<std::string> positional;
};

static std::string default_models_dir() {
    const char* sh = std::getenv("STUDIO_HOME");
    std::string home;
    if (sh && *sh) {
        home = sh;
    } else {
        const char* h = std::getenv("HOME");
        if (!h || !*h) throw oracle_error("neither STUDIO_HOME nor HOME is set; pass --models DIR");
        home = std::string(h) + "/.studio";
    }
    return home + "/models";
}

static long parse_long(const std::string& flag, const std::string& v, long lo, long hi) {
    char* end = nullptr;
    errno = 0;
    long x = std::strtol(v.c_str(), &end, 10);
    if (v.empty() || *end != 0 || errno != 0 || x < lo || x > hi)
        throw oracle_error(flag + " wants an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got '" + v + "'");
    return x;
}

static double parse_double(const std::string& flag, const std::string& v) {
    char* end = nullptr;
    errno = 0;
    double x = std::strtod(v.c_str(), &end);
    if (v.empty() || *end != 0 || errno != 0) throw oracle_error(flag + " wants a number, got '" + v + "'");
    return x;
}

static options parse_args(int argc, char** argv) {
    options o;
    if (argc < 2) throw oracle_error("missing subcommand (faces, aligned, chip, chip-pinv, dump-mmod, dump-resnet, bench, info, dims)");
    o.cmd = argv[1];
    for (int i = 2; i < argc; ++i) {
        std::string a = argv[i];
        auto value = [&](const std::string& flag) -> std::string {
            if (i + 1 >= argc) throw oracle_error(flag + " needs a value");
            return argv[++i];
        };
        if (a == "--models") o.models = value(a);
        else if (a == "--upsample") { o.upsample = (int)parse_long(a, value(a), 0, 4); o.upsample_given = true; }
        else if (a == "--repeat") o.repeat = (int)parse_long(a, value(a), 1, 100000);
        else if (a == "--chips") o.chips_dir = value(a);
        else if (a == "--chip-names") {
            o.chip_names = value(a);
            if (o.chip_names != "basename" && o.chip_names != "path")
                throw oracle_error("--chip-names wants basename or path");
        }
        else if (a == "--chip-details") o.chip_details = true;
        else if (a == "--adjust-threshold") o.adjust_threshold = parse_double(a, value(a));
        else if (a == "--") { for (++i; i < argc; ++i) o.positional.push_back(argv[i]); }
        else if (a.size() > 1 && a[0] == '-' && a[1] == '-') throw oracle_error("unknown option " + a);
        else o.positional.push_back(a);
    }
    if (o.models.empty()) o.models = default_models_dir();
    return o;
}

// ----------------------------------------------------------------------------------------
// Models and images

static const char* kMMOD = "mmod_human_face_detector.dat";
static const char* kSP = "shape_predictor_5_face_landmarks.dat";
static const char* kRESNET = "dlib_face_recognition_resnet_model_v1.dat";

template <typename T>
static void load_model(const options& o, const char* name, T& model) {
    const std::string path = o.models + "/" + name;
    if (!is_regular_file(path)) throw oracle_error("model not found: " + path);
    try {
        deserialize(path) >> model;
    } catch (const std::exception& e) {
        throw oracle_error("cannot load model " + path + ": " + e.what());
    }
}

// dlib::load_image into rgb_alpha, then drop alpha (copy r,g,b; no blending), which is what
// PIL's convert('RGB') does. Loading straight into rgb_pixel would alpha-blend in dlib.
static matrix<rgb_pixel> load_rgb(const std::string& path) {
    if (!is_regular_file(path)) throw oracle_error("cannot read image " + path + ": no such file");
    array2d<rgb_alpha_pixel> rgba;
    try {
        load_image(rgba, path);
    } catch (const std::exception& e) {
        throw oracle_error("cannot read image " + path + ": " + e.what());
    }
    if (rgba.size() == 0) throw oracle_error("cannot read image " + path + ": empty image");
    matrix<rgb_pixel> img(rgba.nr(), rgba.nc());
    for (long r = 0; r < rgba.nr(); ++r)
        for (long c = 0; c < rgba.nc(); ++c) {
            const rgb_alpha_pixel& p = rgba[r][c];
            img(r, c) = rgb_pixel(p.red, p.green, p.blue);
        }
    return img;
}

// Exactly what dlib's python cnn_face_detection_model_v1.__call__ does
// (tools/python/src/cnn_face_detector.cpp): pyramid_up N times with pyramid_down<2>,
// run the net, map each rect back with rect_down(rect, N).
static std::vector<mmod_rect> detect(mmod::net_type& net, const matrix<rgb_pixel>& original, int upsample,
                                     matrix<rgb_pixel>* upsampled_out = nullptr) {
    pyramid_down<2> pyr;
    matrix<rgb_pixel> image = original;
    for (int l = 0; l < upsample; ++l) pyramid_up(image, pyr);
    std::vector<mmod_rect> dets = net(image);
    for (auto& d : dets) d.rect = pyr.rect_down(d.rect, upsample);
    if (upsampled_out) *upsampled_out = std::move(image);
    return dets;
}

static std::string strip_ext(const std::string& s) {
    auto slash = s.find_last_of('/');
    auto dot = s.find_last_of('.');
    if (dot != std::string::npos && (slash == std::string::npos || dot > slash)) return s.substr(0, dot);
    return s;
}

static std::string chip_stem(const std::string& image_path, const std::string& naming) {
    if (naming == "path") {
        std::string p = image_path;
        while (p.rfind("./", 0) == 0) p = p.substr(2);
        while (!p.empty() && p[0] == '/') p = p.substr(1);
        p = strip_ext(p);
        std::string o;
        for (char ch : p) {
            if (ch == '/') o += "__";
            else o += ch;
        }
        return o;
    }
    auto slash = image_path.find_last_of('/');
    std::string base = slash == std::string::npos ? image_path : image_path.substr(slash + 1);
    return strip_ext(base);
}

// ----------------------------------------------------------------------------------------
// faces

static int cmd_faces(const options& o) {
    if (o.positional.empty()) throw oracle_error("faces: no images given");
    mmod::net_type det;
    shape_predictor sp;
    resnet::net_type rec;
    load_model(o, kMMOD, det);
    load_model(o, kSP, sp);
    load_model(o, kRESNET, rec);
    if (!o.chips_dir.empty()) make_dirs(o.chips_dir);

    for (const auto& path : o.positional) {
        matrix<rgb_pixel> img = load_rgb(path);
        std::vector<mmod_rect> dets = detect(det, img, o.upsample);

        std::ostringstream line;
        line << "{\"image\":" << json_str(path) << ",\"width\":" << img.nc() << ",\"height\":" << img.nr()
             << ",\"upsample\":" << o.upsample << ",\"faces\":[";
        for (size_t i = 0; i < dets.size(); ++i) {
            const auto& d = dets[i];
            full_object_detection shape = sp(img, d.rect);
            const chip_details cd = get_face_chip_details(shape, 150, 0.25);
            matrix<rgb_pixel> chip;
            extract_image_chip(img, cd, chip);
            matrix<float, 0, 1> desc = rec(chip);
            if (!o.chips_dir.empty()) {
                const std::string out = o.chips_dir + "/" + chip_stem(path, o.chip_names) + "_" + std::to_string(i) + ".png";
                save_png(chip, out);
            }
            if (i) line << ",";
            line << "{\"box\":" << json_rect(d.rect) << ",\"confidence\":" << fmt_g9(d.detection_confidence)
                 << ",\"landmarks\":[";
            for (unsigned long k = 0; k < shape.num_parts(); ++k) {
                if (k) line << ",";
                line << "[" << shape.part(k).x() << "," << shape.part(k).y() << "]";
            }
            line << "]";
            if (o.chip_details)
                line << ",\"chip\":{\"rect\":[" << fmt_g17(cd.rect.left()) << "," << fmt_g17(cd.rect.top()) << ","
                     << fmt_g17(cd.rect.right()) << "," << fmt_g17(cd.rect.bottom()) << "],\"angle\":" << fmt_g17(cd.angle)
                     << ",\"rows\":" << cd.rows << ",\"cols\":" << cd.cols << "}";
            line << ",\"descriptor\":" << json_floats(&desc(0), desc.size()) << "}";
        }
        line << "]}";
        std::cout << line.str() << "\n" << std::flush;
    }
    return 0;
}

// ----------------------------------------------------------------------------------------
// chip: one face chip from given landmarks (no detection)

// `chip IMAGE X1 Y1 ... X5 Y5`: get_face_chip_details on these 5 integer landmarks (the box is
// unused by get_face_chip_details), extract_image_chip, descriptor. With --chips DIR the chip is
// written as DIR/<stem>.png.
static int cmd_chip(const options& o) {
    if (o.positional.size() != 11) throw oracle_error("chip: want IMAGE and 10 landmark coordinates");
    const std::string& path = o.positional[0];
    std::vector<point> parts;
    for (int k = 0; k < 5; ++k)
        parts.push_back(point(parse_long("chip", o.positional[1 + 2 * k], -1000000, 1000000),
                              parse_long("chip", o.positional[2 + 2 * k], -1000000, 1000000)));
    resnet::net_type rec;
    load_model(o, kRESNET, rec);
    matrix<rgb_pixel> img = load_rgb(path);
    const full_object_detection shape(rectangle(), parts);
    const chip_details cd = get_face_chip_details(shape, 150, 0.25);
    matrix<rgb_pixel> chip;
    extract_image_chip(img, cd, chip);
    matrix<float, 0, 1> desc = rec(chip);
    if (!o.chips_dir.empty()) {
        make_dirs(o.chips_dir);
        save_png(chip, o.chips_dir + "/" + chip_stem(path, o.chip_names) + ".png");
    }
    std::ostringstream line;
    line << "{\"image\":" << json_str(path) << ",\"width\":" << img.nc() << ",\"height\":" << img.nr() << ",\"landmarks\":[";
    for (int k = 0; k < 5; ++k) line << (k ? "," : "") << "[" << parts[k].x() << "," << parts[k].y() << "]";
    line << "],\"chip\":{\"rect\":[" << fmt_g17(cd.rect.left()) << "," << fmt_g17(cd.rect.top()) << ","
         << fmt_g17(cd.rect.right()) << "," << fmt_g17(cd.rect.bottom()) << "],\"angle\":" << fmt_g17(cd.angle)
         << ",\"rows\":" << cd.rows << ",\"cols\":" << cd.cols << "}"
         << ",\"descriptor\":" << json_floats(&desc(0), desc.size()) << "}";
    std::cout << line.str() << "\n" << std::flush;
    return 0;
}

// `chip-pinv ROWS COLS`: pinv(P) for the chip corners P = [0 cols-1 0; 0 0 rows-1; 1 1 1], as
// find_affine_transform computes it inside extract_image_chips (LAPACK SVD), printed with %a.
static int cmd_chip_pinv(const options& o) {
    if (o.positional.size() != 2) throw oracle_error("chip-pinv: want ROWS COLS");
    const long rows = parse_long("chip-pinv", o.positional[0], 2, 100000);
    const long cols = parse_long("chip-pinv", o.positional[1], 2, 100000);
    matrix<double, 3, 0> P(3, 3);
    P = 0, cols - 1, 0,
        0, 0, rows - 1,
        1, 1, 1;
    const matrix<double> pi = pinv(P);
    std::cout << "{\"rows\":" << rows << ",\"cols\":" << cols << ",\"pinv\":[";
    char buf[64];
    for (long r = 0; r < pi.nr(); ++r) {
        std::cout << (r ? "," : "") << "[";
        for (long c = 0; c < pi.nc(); ++c) {
            std::snprintf(buf, sizeof buf, "%a", pi(r, c));
            std::cout << (c ? "," : "") << "\"" << buf << "\"";
        }
        std::cout << "]";
    }
    std::cout << "]}\n" << std::flush;
    return 0;
}

// ----------------------------------------------------------------------------------------
// aligned

static int cmd_aligned(const options& o) {
    if (o.positional.empty()) throw oracle_error("aligned: no images given");
    resnet::net_type rec;
    load_model(o, kRESNET, rec);
    for (const auto& path : o.positional) {
        matrix<rgb_pixel> img = load_rgb(path);
        if (img.nr() != 150 || img.nc() != 150)
            throw oracle_error("aligned: " + path + " is " + std::to_string(img.nc()) + "x" + std::to_string(img.nr()) +
                               ", want a 150x150 chip");
        matrix<float, 0, 1> desc = rec(img);
        std::cout << "{\"image\":" << json_str(path) << ",\"descriptor\":" << json_floats(&desc(0), desc.size()) << "}\n"
                  << std::flush;
    }
    return 0;
}

// ----------------------------------------------------------------------------------------
// Layer dumps

static std::string demangle(const char* n) {
    int status = 0;
    char* d = abi::__cxa_demangle(n, nullptr, nullptr, &status);
    std::string s = (status == 0 && d) ? d : n;
    std::free(d);
    return s;
}

template <typename L, typename U, typename E>
static std::pair<std::string, std::string> describe(const add_layer<L, U, E>& l) {
    std::ostringstream o;
    o << l.layer_details();
    std::string full = o.str();
    while (!full.empty() && (full.back() == '\n' || full.back() == ' ')) full.pop_back();
    std::string type;
    for (char ch : full) {
        if (ch == ' ' || ch == '\t' || ch == '(') break;
        type += ch;
    }
    if (type.empty()) type = demangle(typeid(L).name());
    return {type, full};
}
template <unsigned long ID, typename U, typename E>
static std::pair<std::string, std::string> describe(const add_tag_layer<ID, U, E>&) {
    return {"tag" + std::to_string(ID), "tag" + std::to_string(ID)};
}
template <typename T> struct tag_id_of;
template <unsigned long ID, typename U, typename E> struct tag_id_of<add_tag_layer<ID, U, E>> {
    static constexpr unsigned long value = ID;
};
template <template <typename> class TAG, typename U>
static std::pair<std::string, std::string> describe(const add_skip_layer<TAG, U>&) {
    // TAG<X> is add_tag_layer<ID, X>; the partial specialization above reads ID off the name.
    const std::string n = "skip" + std::to_string(tag_id_of<TAG<input_rgb_image_sized<150>>>::value);
    return {n, n};
}

static void write_f32(const std::string& path, const tensor& t) {
    std::ofstream f(path, std::ios::binary);
    if (!f) throw oracle_error("cannot write " + path);
    // x86-64 is little-endian; tensors are float32 NCHW on the host.
    f.write(reinterpret_cast<const char*>(t.host()), std::streamsize(t.size() * sizeof(float)));
    if (!f) throw oracle_error("write failed: " + path);
}

static std::string json_shape(const tensor& t) {
    std::ostringstream o;
    o << "[" << t.num_samples() << "," << t.k() << "," << t.nr() << "," << t.nc() << "]";
    return o.str();
}

static std::string layer_file_name(size_t idx) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "layer_%03zu.f32", idx);
    return buf;
}

// For each I in [BEGIN, END) runs layer<I>(net).forward(x), which re-runs the whole
// sub-network below layer I and then layer I, and copies layer I's output right after it
// is computed. This is deliberately O(layers^2): dlib runs in-place layers
// (relu, affine) inside the tensor of the layer below, so after a normal forward pass the
// output of e.g. a con layer is already overwritten by the relu above it. Recomputing up
// to exactly layer I and reading get_output() at once gives each layer's own output.
template <size_t I, size_t END, typename NET>
static void dump_layers(NET& net, const resizable_tensor& x, const std::string& outdir, std::vector<std::string>& entries) {
    if constexpr (I < END) {
        auto& l = layer<I>(net);
        const tensor& out = l.forward(x);
        const std::string file = layer_file_name(I);
        write_f32(outdir + "/" + file, out);
        auto d = describe(l);
        std::ostringstream e;
        e << "{\"index\":" << I << ",\"type\":" << json_str(d.first) << ",\"details\":" << json_str(d.second)
          << ",\"file\":" << json_str(file) << ",\"shape\":" << json_shape(out) << "}";
        entries.push_back(e.str());
        dump_layers<I + 1, END>(net, x, outdir, entries);
    }
}

static void write_text(const std::string& path, const std::string& text) {
    std::ofstream f(path);
    if (!f) throw oracle_error("cannot write " + path);
    f << text;
    if (!f) throw oracle_error("write failed: " + path);
}

static std::string join(const std::vector<std::string>& v, const std::string& sep) {
    std::string o;
    for (size_t i = 0; i < v.size(); ++i) {
        if (i) o += sep;
        o += v[i];
    }
    return o;
}

struct raw_det {
    rectangle rect;         // after tensor_space_to_image_space + rounding (upsampled image space)
    drectangle tensor_rect; // centered window in tiled-pyramid tensor space
    dpoint tensor_point;    // output position mapped to input tensor space
    double score;
    long k, r, c;
    bool operator<(const raw_det& o) const { return score < o.score; }
};

static int cmd_dump_mmod(const options& o) {
    if (o.positional.size() != 2) throw oracle_error("dump-mmod: want IMAGE OUTDIR");
    const std::string path = o.positional[0], outdir = o.positional[1];
    mmod::net_type net;
    load_model(o, kMMOD, net);
    matrix<rgb_pixel> img = load_rgb(path);
    make_dirs(outdir);

    pyramid_down<2> up_pyr;
    matrix<rgb_pixel> image = img;
    for (int l = 0; l < o.upsample; ++l) pyramid_up(image, up_pyr);
    save_png(img, outdir + "/original.png");
    if (o.upsample > 0) save_png(image, outdir + "/upsampled.png");

    resizable_tensor x;
    net.to_tensor(&image, &image + 1, x);
    write_f32(outdir + "/input.f32", x);
    const auto& rects = any_cast<std::vector<rectangle>>(x.annotation());

    std::vector<std::string> entries;
    constexpr size_t N = mmod::net_type::num_layers;  // layer<N-1> is the input layer object
    dump_layers<1, N - 1>(net, x, outdir, entries);

    // Full forward, then dlib's own to_label (score > adjust_threshold, NMS).
    net.subnet().forward(x);
    const tensor& out = net.subnet().get_output();
    const auto& opts = net.loss_details().get_options();
    std::vector<mmod_rect> dlib_final;
    net.loss_details().to_label(x, net.subnet(), &dlib_final, o.adjust_threshold);

    // The same steps spelled out with public dlib calls, to expose the pre-NMS list.
    std::vector<raw_det> raw;
    const float* od = out.host();
    for (long k = 0; k < out.k(); ++k)
        for (long r = 0; r < out.nr(); ++r)
            for (long c = 0; c < out.nc(); ++c) {
                const double score = od[(k * out.nr() + r) * out.nc() + c];
                if (score > o.adjust_threshold) {
                    raw_det d;
                    d.tensor_point = output_tensor_to_input_tensor(net, point(c, r));
                    d.tensor_rect = centered_drect(d.tensor_point, opts.detector_windows[k].width, opts.detector_windows[k].height);
                    d.rect = input_layer(net).tensor_space_to_image_space(x, d.tensor_rect);
                    d.score = score;
                    d.k = k; d.r = r; d.c = c;
                    raw.push_back(d);
                }
            }
    std::sort(raw.rbegin(), raw.rend());
    std::vector<size_t> kept;
    for (size_t i = 0; i < raw.size(); ++i) {
        bool suppressed = false;
        for (size_t j : kept)
            if (opts.overlaps_nms(raw[j].rect, raw[i].rect)) { suppressed = true; break; }
        if (!suppressed) kept.push_back(i);
    }
    bool same = kept.size() == dlib_final.size();
    for (size_t i = 0; same && i < kept.size(); ++i)
        same = raw[kept[i]].rect == dlib_final[i].rect && raw[kept[i]].score == dlib_final[i].detection_confidence;

    std::ostringstream m;
    m << "{\n\"image\":" << json_str(path) << ",\n\"width\":" << img.nc() << ",\"height\":" << img.nr()
      << ",\"upsample\":" << o.upsample << ",\n\"upsampled_size\":[" << image.nc() << "," << image.nr() << "]"
      << ",\"original_png\":\"original.png\"" << (o.upsample > 0 ? ",\"upsampled_png\":\"upsampled.png\"" : "")
      << ",\n\"dtype\":\"float32\",\"byte_order\":\"little\",\"layout\":\"NCHW\""
      << ",\n\"input\":{\"file\":\"input.f32\",\"shape\":" << json_shape(x) << ",\"avg_rgb\":["
      << fmt_g9(input_layer(net).get_avg_red()) << "," << fmt_g9(input_layer(net).get_avg_green()) << ","
      << fmt_g9(input_layer(net).get_avg_blue()) << "],\"pyramid_padding\":" << input_layer(net).get_pyramid_padding()
      << ",\"pyramid_outer_padding\":" << input_layer(net).get_pyramid_outer_padding() << "}"
      << ",\n\"pyramid_rects\":[";
    for (size_t i = 0; i < rects.size(); ++i) m << (i ? "," : "") << json_rect(rects[i]);
    m << "],\n\"layers\":[\n" << join(entries, ",\n") << "\n],\n";
    m << "\"mmod_options\":{\"detector_windows\":[";
    for (size_t i = 0; i < opts.detector_windows.size(); ++i)
        m << (i ? "," : "") << "{\"width\":" << opts.detector_windows[i].width << ",\"height\":"
          << opts.detector_windows[i].height << ",\"label\":" << json_str(opts.detector_windows[i].label) << "}";
    m << "],\"overlaps_nms\":{\"iou_thresh\":" << fmt_g9(opts.overlaps_nms.get_iou_thresh())
      << ",\"percent_covered_thresh\":" << fmt_g9(opts.overlaps_nms.get_percent_covered_thresh()) << "}"
      << ",\"use_bounding_box_regression\":" << (opts.use_bounding_box_regression ? "true" : "false")
      << ",\"assume_image_pyramid\":" << (opts.assume_image_pyramid == use_image_pyramid::yes ? "true" : "false")
      << ",\"loss_per_false_alarm\":" << fmt_g9(opts.loss_per_false_alarm) << "},\n";
    const dpoint p00 = output_tensor_to_input_tensor(net, point(0, 0));
    const dpoint p11 = output_tensor_to_input_tensor(net, point(1, 1));
    m << "\"output_to_input_tensor\":{\"(0,0)\":[" << fmt_g9(p00.x()) << "," << fmt_g9(p00.y()) << "],\"(1,1)\":["
      << fmt_g9(p11.x()) << "," << fmt_g9(p11.y()) << "]},\n";
    m << "\"adjust_threshold\":" << fmt_g9(o.adjust_threshold) << ",\n";
    m << "\"detections_before_nms\":[";
    for (size_t i = 0; i < raw.size(); ++i) {
        const auto& d = raw[i];
        m << (i ? ",\n" : "\n") << "{\"score\":" << fmt_g9(d.score) << ",\"k\":" << d.k << ",\"r\":" << d.r << ",\"c\":" << d.c
          << ",\"tensor_point\":[" << fmt_g9(d.tensor_point.x()) << "," << fmt_g9(d.tensor_point.y()) << "]"
          << ",\"tensor_rect\":" << json_drect(d.tensor_rect) << ",\"rect\":" << json_rect(d.rect)
          << ",\"rect_original\":" << json_rect(up_pyr.rect_down(d.rect, o.upsample)) << "}";
    }
    m << "],\n\"detections_after_nms\":[";
    for (size_t i = 0; i < dlib_final.size(); ++i) {
        const auto& d = dlib_final[i];
        m << (i ? ",\n" : "\n") << "{\"confidence\":" << fmt_g9(d.detection_confidence) << ",\"rect\":" << json_rect(d.rect)
          << ",\"rect_original\":" << json_rect(up_pyr.rect_down(d.rect, o.upsample)) << "}";
    }
    m << "],\n\"nms_replay_matches_dlib\":" << (same ? "true" : "false") << "\n}\n";
    write_text(outdir + "/manifest.json", m.str());
    std::cerr << "dump-mmod: " << entries.size() << " layers, " << raw.size() << " raw detections, " << dlib_final.size()
              << " after NMS -> " << outdir << "/manifest.json\n";
    if (!same) {
        std::cerr << "dump-mmod: NMS replay differs from dlib's to_label\n";
        return 2;
    }
    return 0;
}

static int cmd_dump_resnet(const options& o) {
    if (o.positional.size() != 2) throw oracle_error("dump-resnet: want CHIP OUTDIR");
    const std::string path = o.positional[0], outdir = o.positional[1];
    resnet::net_type net;
    load_model(o, kRESNET, net);
    matrix<rgb_pixel> img = load_rgb(path);
    if (img.nr() != 150 || img.nc() != 150) throw oracle_error("dump-resnet: " + path + " is not a 150x150 chip");
    make_dirs(outdir);

    resizable_tensor x;
    net.to_tensor(&img, &img + 1, x);
    write_f32(outdir + "/input.f32", x);
    std::vector<std::string> entries;
    constexpr size_t N = resnet::net_type::num_layers;
    dump_layers<1, N - 1>(net, x, outdir, entries);
    matrix<float, 0, 1> desc = net(img);

    std::ostringstream m;
    m << "{\n\"image\":" << json_str(path) << ",\n\"dtype\":\"float32\",\"byte_order\":\"little\",\"layout\":\"NCHW\""
      << ",\n\"input\":{\"file\":\"input.f32\",\"shape\":" << json_shape(x) << "},\n\"layers\":[\n" << join(entries, ",\n")
      << "\n],\n\"descriptor\":" << json_floats(&desc(0), desc.size()) << "\n}\n";
    write_text(outdir + "/manifest.json", m.str());
    std::cerr << "dump-resnet: " << entries.size() << " layers -> " << outdir << "/manifest.json\n";
    return 0;
}

// ----------------------------------------------------------------------------------------
// bench

using clock_type = std::chrono::steady_clock;
static double ms_since(clock_type::time_point t0) {
    return std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
}
static double median(std::vector<double> v) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}
// One warm-up call, then R timed calls; returns the median in ms.
template <typename F>
static double time_median(int repeat, F&& f) {
    f();
    std::vector<double> t;
    for (int i = 0; i < repeat; ++i) {
        auto t0 = clock_type::now();
        f();
        t.push_back(ms_since(t0));
    }
    return median(t);
}

static int cmd_bench(const options& o) {
    if (o.positional.empty()) throw oracle_error("bench: no images given");
    mmod::net_type det;
    shape_predictor sp;
    resnet::net_type rec;
    load_model(o, kMMOD, det);
    load_model(o, kSP, sp);
    load_model(o, kRESNET, rec);

    struct face_job {
        const matrix<rgb_pixel>* img;
        rectangle rect;
        full_object_detection shape;
        matrix<rgb_pixel> chip;
    };
    std::vector<matrix<rgb_pixel>> images;
    images.reserve(o.positional.size());
    for (const auto& p : o.positional) images.push_back(load_rgb(p));

    std::ostringstream mm;
    std::vector<face_job> faces;
    for (size_t i = 0; i < images.size(); ++i) {
        std::vector<mmod_rect> dets;
        const double t = time_median(o.repeat, [&] { dets = detect(det, images[i], o.upsample); });
        mm << (i ? "," : "") << json_str(o.positional[i]) << ":" << fmt_g9(t);
        for (auto& d : dets) {
            face_job f;
            f.img = &images[i];
            f.rect = d.rect;
            f.shape = sp(images[i], d.rect);
            extract_image_chip(images[i], get_face_chip_details(f.shape, 150, 0.25), f.chip);
            faces.push_back(std::move(f));
        }
    }

    std::string landmarks_ms = "null", chip_ms = "null", desc_ms = "null", desc_batch_ms = "null";
    if (!faces.empty()) {
        const double nf = faces.size();
        volatile long sink = 0;
        landmarks_ms = fmt_g9(time_median(o.repeat, [&] {
            for (auto& f : faces) sink += sp(*f.img, f.rect).part(0).x();
        }) / nf);
        chip_ms = fmt_g9(time_median(o.repeat, [&] {
            for (auto& f : faces) {
                matrix<rgb_pixel> chip;
                extract_image_chip(*f.img, get_face_chip_details(f.shape, 150, 0.25), chip);
                sink += chip(0, 0).red;
            }
        }) / nf);
        desc_ms = fmt_g9(time_median(o.repeat, [&] {
            for (auto& f : faces) sink += (long)rec(f.chip)(0);
        }) / nf);
        // Batched: 16 chips (the faces found, cycled) in one net call, as dlib's python
        // binding does (net(chips, 16)).
        std::vector<matrix<rgb_pixel>> batch;
        for (size_t i = 0; batch.size() < 16; ++i) batch.push_back(faces[i % faces.size()].chip);
        desc_batch_ms = fmt_g9(time_median(o.repeat, [&] { sink += (long)rec(batch, 16)[0](0); }) / batch.size());
    }

    std::cout << "{\"dlib_version\":" << json_str(dlib_version()) << ",\"threads\":" << openblas_get_num_threads()
              << ",\"dlib_pool_threads\":" << default_thread_pool().num_threads_in_pool()
              << ",\"openblas\":" << json_str(openblas_config()) << ",\"repeat\":" << o.repeat
              << ",\"upsample\":" << o.upsample << ",\"faces\":" << faces.size() << ",\"descriptor_ms\":" << desc_ms
              << ",\"descriptor_batch16_ms_per_face\":" << desc_batch_ms << ",\"mmod_ms\":{" << mm.str()
              << "},\"landmarks_ms\":" << landmarks_ms << ",\"chip_ms\":" << chip_ms << "}\n";
    return 0;
}

// ----------------------------------------------------------------------------------------
// dims: image sizes as the oracle loads them (lets scripts pick an upsample per image)

static int cmd_dims(const options& o) {
    if (o.positional.empty()) throw oracle_error("dims: no images given");
    for (const auto& path : o.positional) {
        matrix<rgb_pixel> img = load_rgb(path);
        std::cout << "{\"image\":" << json_str(path) << ",\"width\":" << img.nc() << ",\"height\":" << img.nr() << "}\n";
    }
    std::cout << std::flush;
    return 0;
}

// ----------------------------------------------------------------------------------------
// info

static int cmd_info(const options& o) {
    std::cout << "{\"dlib_version\":" << json_str(dlib_version()) << ",\"openblas\":" << json_str(openblas_config())
              << ",\"openblas_threads\":" << openblas_get_num_threads()
              << ",\"dlib_pool_threads\":" << default_thread_pool().num_threads_in_pool()
              << ",\"models\":" << json_str(o.models);
    const std::string mp = o.models + "/" + kMMOD;
    if (is_regular_file(mp)) {
        mmod::net_type net;
        load_model(o, kMMOD, net);
        const auto& opts = net.loss_details().get_options();
        std::cout << ",\"mmod_detector_windows\":[";
        for (size_t i = 0; i < opts.detector_windows.size(); ++i)
            std::cout << (i ? "," : "") << "[" << opts.detector_windows[i].width << "," << opts.detector_windows[i].height << "]";
        std::cout << "],\"mmod_overlaps_nms\":[" << fmt_g17(opts.overlaps_nms.get_iou_thresh()) << ","
                  << fmt_g17(opts.overlaps_nms.get_percent_covered_thresh()) << "]"
                  << ",\"mmod_input\":{\"avg_rgb\":[" << fmt_g9(input_layer(net).get_avg_red()) << ","
                  << fmt_g9(input_layer(net).get_avg_green()) << "," << fmt_g9(input_layer(net).get_avg_blue())
                  << "],\"pyramid_padding\":" << input_layer(net).get_pyramid_padding()
                  << ",\"pyramid_outer_padding\":" << input_layer(net).get_pyramid_outer_padding() << "}";
    }
    if (is_regular_file(o.models + "/" + kSP)) {
        shape_predictor sp;
        load_model(o, kSP, sp);
        std::cout << ",\"shape_predictor\":{\"num_parts\":" << sp.num_parts() << ",\"num_features\":" << sp.num_features() << "}";
    }
    std::cout << "}\n";
    return 0;
}

// ----------------------------------------------------------------------------------------

static void usage(std::ostream& out) {
    out << "usage: dlib-oracle SUBCOMMAND [--models DIR] ...\n"
           "  faces       [--upsample N] [--chips OUTDIR] [--chip-names basename|path] [--chip-details] IMAGE...\n"
           "  aligned     IMAGE...\n"
           "  chip        [--chips OUTDIR] IMAGE X1 Y1 ... X5 Y5\n"
           "  chip-pinv   ROWS COLS\n"
           "  dump-mmod   [--upsample N] [--adjust-threshold T] IMAGE OUTDIR\n"
           "  dump-resnet CHIP OUTDIR\n"
           "  bench       [--repeat R] [--upsample N] IMAGE...\n"
           "  info                 (versions, threads, MMOD options)\n"
           "  dims        IMAGE... (width and height as loaded)\n"
           "--models defaults to $STUDIO_HOME/models (STUDIO_HOME defaults to ~/.studio).\n";
}

int main(int argc, char** argv) {
    try {
        if (argc >= 2 && (std::strcmp(argv[1], "-h") == 0 || std::strcmp(argv[1], "--help") == 0)) {
            usage(std::cout);
            return 0;
        }
        options o = parse_args(argc, argv);
        if (o.cmd == "faces") return cmd_faces(o);
        if (o.cmd == "aligned") return cmd_aligned(o);
        if (o.cmd == "chip") return cmd_chip(o);
        if (o.cmd == "chip-pinv") return cmd_chip_pinv(o);
        if (o.cmd == "dump-mmod") return cmd_dump_mmod(o);
        if (o.cmd == "dump-resnet") return cmd_dump_resnet(o);
        if (o.cmd == "bench") return cmd_bench(o);
        if (o.cmd == "info") return cmd_info(o);
        if (o.cmd == "dims") return cmd_dims(o);
        throw oracle_error("unknown subcommand '" + o.cmd + "'");
    } catch (const oracle_error& e) {
        std::cout.flush();
        std::cerr << "dlib-oracle: " << e.what() << "\n";
        if (std::string(e.what()).find("subcommand") != std::string::npos) usage(std::cerr);
        return 2;
    } catch (const std::bad_alloc&) {
        std::cout.flush();
        std::cerr << "dlib-oracle: out of memory\n";
        return 2;
    } catch (const std::exception& e) {
        std::cout.flush();
        std::cerr << "dlib-oracle: " << e.what() << "\n";
        return 2;
    } catch (...) {
        std::cout.flush();
        std::cerr << "dlib-oracle: unknown error\n";
        return 2;
    }
}
