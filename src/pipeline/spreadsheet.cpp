// Spreadsheets as text a model reads well: each sheet a "## Sheet: NAME" heading, then its rows
// as tab-separated lines (empty rows and trailing empty cells left out); numbers as stored (no
// float noise), dates as ISO 8601 (the cell's number format decides), booleans TRUE/FALSE.
#include "pipeline/spreadsheet.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <map>
#include <pugixml.hpp>
#include <vector>

#include "pipeline/zip_archive.h"

namespace tf::pipeline {

namespace {

using Row = std::vector<std::string>;

// A cell's text on one line: the rows are tab-separated.
std::string flat(std::string s) {
    for (char& c : s) {
        if (c == '\t' || c == '\n' || c == '\r') c = ' ';
    }
    return s;
}

void append_sheet(std::string& out, const std::string& name, std::vector<Row>& rows) {
    out += "## Sheet: " + name + "\n";
    for (Row& r : rows) {
        while (!r.empty() && r.back().empty()) r.pop_back();
        if (r.empty()) continue;
        std::string line;
        for (size_t i = 0; i < r.size(); ++i) line += (i ? "\t" : "") + r[i];
        out += line + "\n";
    }
    out += "\n";
}

// Days since the epoch (1899-12-30, or 1904-01-01) → "YYYY-MM-DD[ hh:mm[:ss]]".
std::string excel_date(double serial, bool date1904, bool with_time) {
    if (!std::isfinite(serial) || serial < 0 || serial > 2958465) return "";
    long days = static_cast<long>(std::floor(serial));
    double frac = serial - static_cast<double>(days);
    if (date1904) days += 1462;
    // Excel's 1900 system counts a 29 February 1900 that never was: serials before it are one off.
    if (!date1904 && days < 61) days += 1;
    // Civil date from days since 1899-12-30 (Howard Hinnant's algorithm on the Unix epoch).
    long z = days - 25569 + 719468;
    const long era = (z >= 0 ? z : z - 146096) / 146097;
    const long doe = z - era * 146097;
    const long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long y = yoe + era * 400;
    const long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const long mp = (5 * doy + 2) / 153;
    const long d = doy - (153 * mp + 2) / 5 + 1;
    const long m = mp < 10 ? mp + 3 : mp - 9;
    if (m <= 2) ++y;
    char buf[96];
    std::snprintf(buf, sizeof buf, "%04ld-%02ld-%02ld", y, m, d);
    std::string out = buf;
    long secs = std::lround(frac * 86400.0);
    if (with_time || secs != 0) {
        secs = std::min(secs, 86399L);
        std::snprintf(buf, sizeof buf, " %02ld:%02ld:%02ld", secs / 3600, secs / 60 % 60, secs % 60);
        out += buf;
    }
    return out;
}

// Whether a number format shows a date or time: the built-in ids, or a format code with date
// letters outside quoted text and [colour]/[$-locale] brackets.
bool is_date_format(int id, const std::string& code) {
    if ((id >= 14 && id <= 22) || (id >= 45 && id <= 47)) return true;
    bool quoted = false, bracket = false;
    for (char c : code) {
        if (c == '"')
            quoted = !quoted;
        else if (!quoted && c == '[')
            bracket = true;
        else if (!quoted && c == ']')
            bracket = false;
        else if (!quoted && !bracket && std::string_view("dmyhsDMYHS").find(c) != std::string_view::npos)
            return true;
    }
    return false;
}

bool has_time(const std::string& code, int id) {
    if (id >= 18 && id <= 22) return true;
    return code.find('h') != std::string::npos || code.find('H') != std::string::npos ||
           code.find('s') != std::string::npos;
}

// "C12" → column 2 (0-based); -1 when not a reference.
int column_of(const char* ref) {
    int col = 0, letters = 0;
    for (; *ref && std::isalpha(static_cast<unsigned char>(*ref)); ++ref, ++letters)
        col = col * 26 + (std::toupper(*ref) - 'A' + 1);
    return letters == 0 || letters > 3 ? -1 : col - 1;
}

Result<pugi::xml_document> parse(const ZipArchive& zip, const std::string& name) {
    auto xml = zip.read(name);
    if (!xml) return Error{xml.error().message};
    pugi::xml_document doc;
    const auto r = doc.load_buffer(xml->data(), xml->size());
    if (!r) return Error{name + " is not valid XML: " + r.description()};
    return doc;
}

std::string all_text(const pugi::xml_node& n, const char* tag) {
    std::string s;
    for (const pugi::xpath_node& t : n.select_nodes(tag)) s += t.node().text().get();
    return s;
}

constexpr size_t kMaxColumns = 16384, kMaxRows = 1048576;

}  // namespace

Result<std::string> xlsx_to_text(const std::string& bytes) {
    auto zip = ZipArchive::open(bytes);
    if (!zip) return Error{"not an XLSX file (" + zip.error().message + ")"};
    auto wb = parse(*zip, "xl/workbook.xml");
    if (!wb) return Error{"not an XLSX file (" + wb.error().message + ")"};
    const pugi::xml_node workbook = wb->child("workbook");
    const bool date1904 = workbook.child("workbookPr").attribute("date1904").as_bool();

    std::map<std::string, std::string> targets;  // relationship id → member path
    if (auto rels = parse(*zip, "xl/_rels/workbook.xml.rels")) {
        for (pugi::xml_node r : rels->child("Relationships").children("Relationship")) {
            std::string t = r.attribute("Target").as_string();
            if (!t.empty() && t[0] == '/')
                t = t.substr(1);
            else
                t = "xl/" + t;
            targets[r.attribute("Id").as_string()] = t;
        }
    }
    std::vector<std::string> shared;
    if (zip->has("xl/sharedStrings.xml")) {
        auto sst = parse(*zip, "xl/sharedStrings.xml");
        if (!sst) return Error{sst.error().message};
        for (pugi::xml_node si : sst->child("sst").children("si"))
            shared.push_back(all_text(si, ".//t[not(ancestor::rPh)]"));
    }
    // Each style's number format: whether it shows a date, and a time.
    std::vector<std::pair<bool, bool>> style_dates;
    if (zip->has("xl/styles.xml")) {
        if (auto st = parse(*zip, "xl/styles.xml")) {
            std::map<int, std::string> codes;
            for (pugi::xml_node f : st->child("styleSheet").child("numFmts").children("numFmt"))
                codes[f.attribute("numFmtId").as_int()] = f.attribute("formatCode").as_string();
            for (pugi::xml_node xf : st->child("styleSheet").child("cellXfs").children("xf")) {
                const int id = xf.attribute("numFmtId").as_int();
                const std::string code = codes.count(id) ? codes[id] : "";
                style_dates.push_back({is_date_format(id, code), has_time(code, id)});
            }
        }
    }
    std::string out;
    for (pugi::xml_node sheet : workbook.child("sheets").children("sheet")) {
        const std::string name = sheet.attribute("name").as_string();
        std::string member = targets[sheet.attribute("r:id").as_string()];
        if (member.empty())
            member = "xl/worksheets/sheet" + std::string(sheet.attribute("sheetId").as_string()) + ".xml";
        auto ws = parse(*zip, member);
        if (!ws) return Error{"sheet '" + name + "': " + ws.error().message};
        std::vector<Row> rows;
        for (pugi::xml_node row : ws->child("worksheet").child("sheetData").children("row")) {
            if (rows.size() >= kMaxRows) break;
            Row r;
            for (pugi::xml_node c : row.children("c")) {
                int col = column_of(c.attribute("r").as_string());
                if (col < 0) col = static_cast<int>(r.size());
                if (static_cast<size_t>(col) >= kMaxColumns) continue;
                const std::string t = c.attribute("t").as_string();
                const std::string v = c.child("v").text().get();
                std::string text;
                if (t == "s") {
                    const size_t i = static_cast<size_t>(std::strtoul(v.c_str(), nullptr, 10));
                    text = i < shared.size() ? shared[i] : "";
                } else if (t == "inlineStr") {
                    text = all_text(c.child("is"), ".//t");
                } else if (t == "b") {
                    text = v == "1" ? "TRUE" : "FALSE";
                } else if (t == "str" || t == "e" || t == "d") {
                    text = v;
                } else {
                    text = v;
                    const size_t s = static_cast<size_t>(c.attribute("s").as_int());
                    if (!v.empty() && s < style_dates.size() && style_dates[s].first) {
                        const std::string d =
                            excel_date(std::strtod(v.c_str(), nullptr), date1904, style_dates[s].second);
                        if (!d.empty()) text = d;
                    }
                }
                if (r.size() <= static_cast<size_t>(col)) r.resize(static_cast<size_t>(col) + 1);
                r[static_cast<size_t>(col)] = flat(text);
            }
            rows.push_back(std::move(r));
        }
        append_sheet(out, name, rows);
    }
    if (out.empty()) return Error{"the workbook has no sheets"};
    return out;
}

Result<std::string> ods_to_text(const std::string& bytes) {
    auto zip = ZipArchive::open(bytes);
    if (!zip) return Error{"not an ODS file (" + zip.error().message + ")"};
    auto content = parse(*zip, "content.xml");
    if (!content) return Error{"not an ODS file (" + content.error().message + ")"};
    const pugi::xml_node body =
        content->child("office:document-content").child("office:body").child("office:spreadsheet");
    if (!body) return Error{"not an ODS file (no office:spreadsheet in content.xml)"};
    std::string out;
    for (pugi::xml_node table : body.children("table:table")) {
        std::vector<Row> rows;
        for (const pugi::xpath_node& xr : table.select_nodes(".//table:table-row")) {
            const pugi::xml_node row = xr.node();
            Row r;
            for (pugi::xml_node c : row.children()) {
                const std::string cname = c.name();
                if (cname != "table:table-cell" && cname != "table:covered-table-cell") continue;
                const std::string type = c.attribute("office:value-type").as_string();
                std::string text;
                if (type == "date")
                    text = c.attribute("office:date-value").as_string();
                else if (type == "boolean")
                    text = c.attribute("office:boolean-value").as_bool() ? "TRUE" : "FALSE";
                else if (type == "float" || type == "currency" || type == "percentage")
                    text = c.attribute("office:value").as_string();
                if (text.empty()) {
                    for (pugi::xml_node p : c.children("text:p"))
                        text += (text.empty() ? "" : " ") + all_text(p, ".//text()");
                }
                if (!text.empty() && text.find('T') == 10 && type == "date" && text.size() >= 19 &&
                    text.compare(10, 9, "T00:00:00") == 0)
                    text.resize(10);
                // Repeated cells: empty ones (a row's tail is often "1,024 more") cost nothing.
                size_t repeat = std::max<size_t>(1, c.attribute("table:number-columns-repeated").as_uint());
                if (text.empty()) {
                    r.resize(std::min(kMaxColumns, r.size() + repeat));
                    continue;
                }
                for (size_t k = 0; k < repeat && r.size() < kMaxColumns; ++k) r.push_back(flat(text));
            }
            while (!r.empty() && r.back().empty()) r.pop_back();
            const size_t repeat_rows =
                r.empty() ? 1
                          : std::max<size_t>(
                                1, std::min<size_t>(row.attribute("table:number-rows-repeated").as_uint(), 1000));
            for (size_t k = 0; k < repeat_rows && rows.size() < kMaxRows; ++k) rows.push_back(r);
        }
        append_sheet(out, table.attribute("table:name").as_string(), rows);
    }
    if (out.empty()) return Error{"the spreadsheet has no tables"};
    return out;
}

Result<std::string> csv_to_text(std::string_view text) {
    // The delimiter: of , ; tab |, the one that splits the first lines into the most equal,
    // non-zero numbers of fields (quotes respected).
    auto fields_per_line = [&](char delim) {
        std::vector<size_t> counts;
        size_t n = 1;
        bool quoted = false;
        for (size_t i = 0; i < text.size() && counts.size() < 20; ++i) {
            const char c = text[i];
            if (c == '"')
                quoted = !quoted;
            else if (!quoted && c == delim)
                ++n;
            else if (!quoted && c == '\n') {
                counts.push_back(n);
                n = 1;
            }
        }
        if (counts.size() < 20 && n > 1) counts.push_back(n);
        return counts;
    };
    char delim = ',';
    double best = -1;
    for (char d : {',', ';', '\t', '|'}) {
        const auto counts = fields_per_line(d);
        if (counts.empty() || counts[0] < 2) continue;
        const size_t same = static_cast<size_t>(std::count(counts.begin(), counts.end(), counts[0]));
        const double score =
            static_cast<double>(same) / static_cast<double>(counts.size()) * 1000.0 + static_cast<double>(counts[0]);
        if (score > best) best = score, delim = d;
    }
    std::string out;
    Row row;
    std::string cell;
    bool quoted = false, any = false;
    auto end_row = [&] {
        row.push_back(flat(cell));
        cell.clear();
        while (!row.empty() && row.back().empty()) row.pop_back();
        if (!row.empty()) {
            std::string line;
            for (size_t i = 0; i < row.size(); ++i) line += (i ? "\t" : "") + row[i];
            out += line + "\n";
        }
        row.clear();
        any = false;
    };
    for (size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (quoted) {
            if (c == '"' && i + 1 < text.size() && text[i + 1] == '"')
                cell += '"', ++i;
            else if (c == '"')
                quoted = false;
            else
                cell += c;
        } else if (c == '"' && cell.empty()) {
            quoted = true;
            any = true;
        } else if (c == delim) {
            row.push_back(flat(cell));
            cell.clear();
            any = true;
        } else if (c == '\n') {
            end_row();
        } else if (c != '\r') {
            cell += c;
            any = true;
        }
    }
    if (any || !cell.empty()) end_row();
    return out;
}

}  // namespace tf::pipeline
