#include "pipeline/ocr.h"

#include <dlfcn.h>
#include <leptonica/allheaders.h>
#include <tesseract/capi.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <type_traits>
#include <vector>

namespace tf::pipeline {

namespace {

// Tesseract's data directory: $TESSDATA_PREFIX, else where Debian installs it.
std::string tessdata_dir() {
    if (const char* p = std::getenv("TESSDATA_PREFIX"); p && *p) return p;
    for (const char* d :
         {"/usr/share/tesseract-ocr/5/tessdata", "/usr/share/tesseract-ocr/4.00/tessdata", "/usr/share/tessdata"}) {
        if (std::filesystem::is_directory(d)) return d;
    }
    return "/usr/share/tesseract-ocr/5/tessdata";
}

}  // namespace

namespace {

// Tesseract is opened at the first OCR, not linked: it parallelises inside a page with OpenMP,
// whose threads spin, and libgomp fixes its thread limit when it is loaded. On 2 cores a page
// took 23 s of wall time (38 s of it system time) with Tesseract's own thread count and 2.7 s
// with one thread — and pages and documents already run in parallel one level up (--parallel).
// So OMP_THREAD_LIMIT=1 (unless the user set it) is put in place before libgomp comes in.
// It also means a machine without libtesseract runs everything but OCR.
struct TessApi {
    decltype(&TessBaseAPICreate) create;
    decltype(&TessBaseAPIDelete) destroy;
    decltype(&TessBaseAPIInit2) init;
    decltype(&TessBaseAPISetVariable) set_variable;
    decltype(&TessBaseAPISetPageSegMode) set_psm;
    decltype(&TessBaseAPISetImage) set_image;
    decltype(&TessBaseAPISetImage2) set_pix;
    decltype(&TessBaseAPISetSourceResolution) set_resolution;
    decltype(&TessBaseAPIRecognize) recognize;
    decltype(&TessBaseAPIGetUTF8Text) utf8_text;
    decltype(&TessDeleteText) delete_text;
    decltype(&TessBaseAPIMeanTextConf) mean_conf;
    decltype(&TessBaseAPIClear) clear;
    decltype(&TessBaseAPIEnd) end;
};

Result<const TessApi*> tesseract_api() {
    static std::once_flag once;
    static TessApi api;
    static std::string error;
    std::call_once(once, [] {
        ::setenv("OMP_THREAD_LIMIT", "1", /*overwrite=*/0);
        void* h = ::dlopen("libtesseract.so.5", RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            error = std::string("Tesseract cannot be loaded (") + ::dlerror() + "; Debian: apt install libtesseract5)";
            return;
        }
        auto sym = [&](auto& fn, const char* name) {
            fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(::dlsym(h, name));
            if (!fn && error.empty()) error = std::string("Tesseract's library lacks ") + name;
        };
        sym(api.create, "TessBaseAPICreate");
        sym(api.destroy, "TessBaseAPIDelete");
        sym(api.init, "TessBaseAPIInit2");
        sym(api.set_variable, "TessBaseAPISetVariable");
        sym(api.set_psm, "TessBaseAPISetPageSegMode");
        sym(api.set_image, "TessBaseAPISetImage");
        sym(api.set_pix, "TessBaseAPISetImage2");
        sym(api.set_resolution, "TessBaseAPISetSourceResolution");
        sym(api.recognize, "TessBaseAPIRecognize");
        sym(api.utf8_text, "TessBaseAPIGetUTF8Text");
        sym(api.delete_text, "TessDeleteText");
        sym(api.mean_conf, "TessBaseAPIMeanTextConf");
        sym(api.clear, "TessBaseAPIClear");
        sym(api.end, "TessBaseAPIEnd");
    });
    if (!error.empty()) return Error{error};
    return &api;
}

}  // namespace

struct Ocr::Impl {
    const TessApi* t = nullptr;
    TessBaseAPI* api = nullptr;
    ~Impl() {
        if (api) {
            t->end(api);
            t->destroy(api);
        }
    }
};

std::vector<std::string> installed_ocr_languages() {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(tessdata_dir(), ec)) {
        if (e.path().extension() == ".traineddata" && e.path().stem() != "osd") out.push_back(e.path().stem().string());
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::string image_format(std::string_view b) {
    auto starts = [&](std::string_view sig) { return b.substr(0, sig.size()) == sig; };
    if (starts("\x89PNG\r\n\x1a\n")) return "png";
    if (starts("\xFF\xD8\xFF")) return "jpeg";
    if (starts(std::string_view("II*\0", 4)) || starts(std::string_view("MM\0*", 4))) return "tiff";
    if (starts("GIF87a") || starts("GIF89a")) return "gif";
    if (starts("BM") && b.size() > 26) return "bmp";
    if (starts("RIFF") && b.size() > 12 && b.substr(8, 4) == "WEBP") return "webp";
    return "";
}

Result<std::unique_ptr<Ocr>> Ocr::open(const std::string& languages) {
    std::string langs = languages;
    const auto installed = installed_ocr_languages();
    if (langs.empty()) {
        if (const char* e = std::getenv("TERRAFERMA_OCR_LANG"); e && *e) langs = e;
    }
    if (langs.empty()) {
        if (std::find(installed.begin(), installed.end(), "eng") != installed.end())
            langs = "eng";
        else if (!installed.empty())
            langs = installed.front();
    }
    std::string have;
    for (const auto& l : installed) have += (have.empty() ? "" : ", ") + l;
    if (langs.empty())
        return Error{"OCR needs Tesseract language data and none is installed in " + tessdata_dir() +
                     " (Debian: apt install tesseract-ocr-eng)"};
    // Every language asked for must be there: Tesseract would otherwise print and carry on.
    for (size_t start = 0; start <= langs.size();) {
        const size_t plus = std::min(langs.find('+', start), langs.size());
        const std::string one = langs.substr(start, plus - start);
        if (std::find(installed.begin(), installed.end(), one) == installed.end())
            return Error{"OCR language '" + one + "' is not installed (installed: " + (have.empty() ? "none" : have) +
                         "; Debian: apt install tesseract-ocr-" + one + ")"};
        start = plus + 1;
    }
    auto t = tesseract_api();
    if (!t) return t.error();
    std::unique_ptr<Ocr> o(new Ocr());
    o->impl_ = std::make_unique<Impl>();
    o->impl_->t = *t;
    o->impl_->api = (*t)->create();
    o->languages_ = langs;
    if (!o->impl_->api ||
        (*t)->init(o->impl_->api, tessdata_dir().c_str(), langs.c_str(), tesseract::OEM_LSTM_ONLY) != 0)
        return Error{"Tesseract could not load the language data '" + langs + "' from " + tessdata_dir()};
    (*t)->set_variable(o->impl_->api, "debug_file", "/dev/null");  // no chatter on stderr per page
    (*t)->set_psm(o->impl_->api, tesseract::PSM_AUTO);
    return o;
}

Ocr::~Ocr() = default;

namespace {

Result<OcrText> read_out(const TessApi& t, TessBaseAPI* api) {
    if (t.recognize(api, nullptr) != 0) return Error{"Tesseract could not recognise the image"};
    char* text = t.utf8_text(api);
    OcrText r;
    r.text = text ? text : "";
    if (text) t.delete_text(text);
    r.confidence = std::clamp(t.mean_conf(api), 0, 100);
    t.clear(api);
    return r;
}

}  // namespace

Result<OcrText> Ocr::recognise(const uint8_t* pixels, int width, int height, int bytes_per_pixel, int bytes_per_line,
                               int dpi) {
    if (width <= 0 || height <= 0) return Error{"an empty image"};
    if (static_cast<uint64_t>(width) * static_cast<uint64_t>(height) > kMaxPixels)
        return Error{"an image of " + std::to_string(width) + "×" + std::to_string(height) +
                     " pixels is too large to OCR"};
    std::vector<uint8_t> rgb;
    if (bytes_per_pixel == 4) {
        // ARGB32 in memory is B,G,R,A: Tesseract wants R,G,B.
        rgb.resize(static_cast<size_t>(width) * height * 3);
        for (int y = 0; y < height; ++y) {
            const uint8_t* row = pixels + static_cast<size_t>(y) * bytes_per_line;
            uint8_t* out = rgb.data() + static_cast<size_t>(y) * width * 3;
            for (int x = 0; x < width; ++x) {
                out[3 * x] = row[4 * x + 2];
                out[3 * x + 1] = row[4 * x + 1];
                out[3 * x + 2] = row[4 * x];
            }
        }
        pixels = rgb.data();
        bytes_per_pixel = 3;
        bytes_per_line = width * 3;
    } else if (bytes_per_pixel != 1 && bytes_per_pixel != 3) {
        return Error{"an image with " + std::to_string(bytes_per_pixel) + " bytes per pixel"};
    }
    impl_->t->set_image(impl_->api, pixels, width, height, bytes_per_pixel, bytes_per_line);
    impl_->t->set_resolution(impl_->api, dpi);
    return read_out(*impl_->t, impl_->api);
}

Result<OcrText> Ocr::recognise_file(std::string_view bytes) {
    const std::string fmt = image_format(bytes);
    if (fmt.empty()) return Error{"not an image Leptonica reads (PNG, JPEG, TIFF, BMP, GIF, WebP)"};
    const auto* data = reinterpret_cast<const l_uint8*>(bytes.data());
    l_int32 w = 0, h = 0, bps = 0, spp = 0, format = 0;
    if (pixReadHeaderMem(data, bytes.size(), &format, &w, &h, &bps, &spp, nullptr) != 0)
        return Error{"the " + fmt + " image's header cannot be read"};
    if (w <= 0 || h <= 0 || static_cast<uint64_t>(w) * static_cast<uint64_t>(h) > kMaxPixels)
        return Error{"an image of " + std::to_string(w) + "×" + std::to_string(h) +
                     " pixels: over the limit of ~100 megapixels, not decoded"};
    OcrText all;
    int pages = 1;
    if (fmt == "tiff") {
        l_int32 n = 1;
        FILE* f = fmemopen(const_cast<char*>(bytes.data()), bytes.size(), "rb");
        if (f) {
            if (tiffGetCount(f, &n) == 0) pages = std::max(1, n);
            std::fclose(f);
        }
    }
    long confidence_sum = 0;
    for (int p = 0; p < std::min(pages, 1000); ++p) {
        Pix* pix = fmt == "tiff" ? pixReadMemTiff(data, bytes.size(), p) : pixReadMem(data, bytes.size());
        if (!pix)
            return Error{"the " + fmt + " image cannot be decoded" +
                         (pages > 1 ? " (page " + std::to_string(p + 1) + ")" : "")};
        if (static_cast<uint64_t>(pixGetWidth(pix)) * static_cast<uint64_t>(pixGetHeight(pix)) > kMaxPixels) {
            pixDestroy(&pix);
            return Error{"an image page over the limit of ~100 megapixels"};
        }
        // Scans record their resolution; phone photos often do not (Tesseract then guesses).
        if (pixGetXRes(pix) <= 0) pixSetResolution(pix, 300, 300);
        impl_->t->set_pix(impl_->api, pix);
        auto r = read_out(*impl_->t, impl_->api);
        pixDestroy(&pix);
        if (!r) return r.error();
        if (p > 0) all.text += "\f";
        all.text += r->text;
        confidence_sum += r->confidence;
    }
    all.confidence = static_cast<int>(confidence_sum / std::max(1, std::min(pages, 1000)));
    return all;
}

}  // namespace tf::pipeline
