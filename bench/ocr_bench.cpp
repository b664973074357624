// OCR throughput: renders pages of a PDF at 300 dpi (poppler, as the reader does for pages
// without text) and reads them with Tesseract through pipeline::Ocr, one thread.
//
//   ocr_bench FILE.pdf [PAGES]      → per page: render ms, OCR ms, confidence; then pages/min
#include <poppler-document.h>
#include <poppler-page-renderer.h>
#include <poppler-page.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "pipeline/ocr.h"

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: ocr_bench FILE.pdf [PAGES]\n");
        return 2;
    }
    std::ifstream in(argv[1], std::ios::binary);
    std::vector<char> data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::unique_ptr<poppler::document> doc(
        poppler::document::load_from_raw_data(data.data(), static_cast<int>(data.size())));
    if (!doc) {
        std::fprintf(stderr, "ocr_bench: %s: not a readable PDF\n", argv[1]);
        return 1;
    }
    const int pages = std::min(doc->pages(), argc > 2 ? std::atoi(argv[2]) : 5);
    auto ocr = tf::pipeline::Ocr::open();
    if (!ocr) {
        std::fprintf(stderr, "ocr_bench: %s\n", ocr.error().message.c_str());
        return 1;
    }
    poppler::page_renderer renderer;
    renderer.set_render_hints(poppler::page_renderer::antialiasing | poppler::page_renderer::text_antialiasing);
    using clock = std::chrono::steady_clock;
    double render_s = 0, ocr_s = 0;
    for (int i = 0; i < pages; ++i) {
        std::unique_ptr<poppler::page> p(doc->create_page(i));
        const auto t0 = clock::now();
        const poppler::image img = renderer.render_page(p.get(), 300, 300);
        const auto t1 = clock::now();
        auto r = (*ocr)->recognise(reinterpret_cast<const uint8_t*>(img.const_data()), img.width(), img.height(), 4,
                                   img.bytes_per_row(), 300);
        const auto t2 = clock::now();
        const double rs = std::chrono::duration<double>(t1 - t0).count(),
                     os = std::chrono::duration<double>(t2 - t1).count();
        render_s += rs, ocr_s += os;
        std::printf("page %2d  %dx%d  render %6.0f ms  ocr %6.0f ms  confidence %3d%%  %zu chars\n", i + 1, img.width(),
                    img.height(), rs * 1e3, os * 1e3, r ? r->confidence : -1, r ? r->text.size() : 0);
    }
    std::printf("%d pages at 300 dpi, 1 thread (%s): %.1f pages/min (render %.0f%% of the time)\n", pages,
                (*ocr)->languages().c_str(), pages / (render_s + ocr_s) * 60.0, 100.0 * render_s / (render_s + ocr_s));
    return 0;
}
