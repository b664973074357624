#include "pipeline/pdf_forms.h"

// qpdf's API with std::shared_ptr only (its old PointerHolder gone).
#define POINTERHOLDER_TRANSITION 4
#include <cstdlib>
#include <fstream>
#include <map>
#include <pugixml.hpp>
#include <qpdf/QPDF.hh>
#include <qpdf/QPDFAcroFormDocumentHelper.hh>
#include <qpdf/QPDFPageDocumentHelper.hh>

namespace tf::pipeline {

namespace {

constexpr size_t kMaxFields = 20000;  // a form with more is read up to here
constexpr size_t kMaxXfaBytes = 64u << 20;

// Line breaks as \n (PDF text fields separate lines with \r).
std::string lines(std::string v) {
    std::string out;
    for (size_t i = 0; i < v.size(); ++i) {
        if (v[i] == '\r') {
            out += '\n';
            if (i + 1 < v.size() && v[i + 1] == '\n') ++i;
        } else {
            out += v[i];
        }
    }
    return out;
}

// A field's value as a reader would say it; empty when it has none.
std::string value_of(QPDFFormFieldObjectHelper& f) {
    if (f.isPushbutton()) return "";
    // Text is a string; a button's or a choice's state may be a name (getValueAsString() gives
    // those as empty).
    QPDFObjectHandle raw = f.getValue();
    std::string v = raw.isName() ? raw.getName() : f.getValueAsString();
    if (raw.isArray()) {  // a multiple-choice list: its chosen options
        v.clear();
        for (int i = 0; i < raw.getArrayNItems() && i < 1000; ++i) {
            QPDFObjectHandle o = raw.getArrayItem(i);
            if (o.isString()) v += (v.empty() ? "" : "; ") + o.getUTF8Value();
        }
    }
    // A check box's value is the name of its "on" state, or /Off.
    if (f.isCheckbox()) return !v.empty() && v != "/Off" ? "checked" : "";
    if (f.isRadioButton() || (!v.empty() && v[0] == '/')) {  // a name: the chosen option's export value
        if (v == "/Off") return "";
        if (!v.empty() && v[0] == '/') v.erase(0, 1);
    }
    return lines(std::move(v));
}

// The leaf elements of an XFA datasets' data, as "a.b.c: value". Nesting deeper than any real
// form is not followed: a hostile file cannot run the stack out.
void xfa_leaves(const pugi::xml_node& n, const std::string& path, std::vector<PdfFormField>& out, int depth = 0) {
    constexpr int kMaxDepth = 64;
    if (depth > kMaxDepth) return;
    bool has_child_element = false;
    for (const pugi::xml_node& c : n.children()) {
        if (c.type() != pugi::node_element) continue;
        has_child_element = true;
        if (out.size() >= kMaxFields) return;
        xfa_leaves(c, path.empty() ? c.name() : path + "." + c.name(), out, depth + 1);
    }
    if (has_child_element) return;
    const std::string text = n.text().get();
    if (text.find_first_not_of(" \t\r\n") != std::string::npos) out.push_back({path, text, -1});
}

// The XFA packets (either one XDP stream or [name stream name stream ...]) joined.
std::string xfa_xml(QPDFObjectHandle xfa) {
    std::string xml;
    auto add = [&](QPDFObjectHandle s) {
        if (!s.isStream()) return;
        std::shared_ptr<Buffer> b = s.getStreamData(qpdf_dl_generalized);
        if (xml.size() + b->getSize() > kMaxXfaBytes) return;
        xml.append(reinterpret_cast<const char*>(b->getBuffer()), b->getSize());
    };
    if (xfa.isStream()) {
        add(xfa);
    } else if (xfa.isArray()) {
        for (int i = 1; i < xfa.getArrayNItems(); i += 2) add(xfa.getArrayItem(i));
    }
    return xml;
}

void read_xfa(QPDFObjectHandle acroform, PdfForm& form) {
    if (!acroform.isDictionary() || !acroform.hasKey("/XFA")) return;
    form.xfa = true;
    const std::string xml = xfa_xml(acroform.getKey("/XFA"));
    pugi::xml_document doc;
    // The packets are fragments when split: parse them under one root.
    if (!doc.load_string(("<xfa-packets>" + xml + "</xfa-packets>").c_str(), pugi::parse_default)) return;
    for (const pugi::xpath_node& d : doc.select_nodes("//*[local-name()='datasets']/*[local-name()='data']"))
        xfa_leaves(d.node(), "", form.xfa_data);
}

}  // namespace

Result<PdfForm> pdf_form(const std::string& bytes, const std::vector<std::string>& passwords) {
    std::vector<std::string> tries = {""};
    tries.insert(tries.end(), passwords.begin(), passwords.end());
    for (size_t t = 0; t < tries.size(); ++t) {
        try {
            QPDF q;
            q.setSuppressWarnings(true);
            q.processMemoryFile("document", bytes.data(), bytes.size(), tries[t].c_str());
            PdfForm form;
            QPDFAcroFormDocumentHelper acro(q);
            if (!acro.hasAcroForm()) return form;
            read_xfa(q.getRoot().getKey("/AcroForm"), form);
            std::map<QPDFObjGen, int> page_of;
            int index = 0;
            for (QPDFPageObjectHelper& page : QPDFPageDocumentHelper(q).getAllPages()) {
                for (QPDFFormFieldObjectHelper& f : acro.getFormFieldsForPage(page))
                    page_of.emplace(f.getObjectHandle().getObjGen(), index);
                ++index;
            }
            for (QPDFFormFieldObjectHelper& f : acro.getFormFields()) {
                if (form.fields.size() >= kMaxFields) break;
                std::string value = value_of(f);
                if (value.empty()) continue;
                const auto p = page_of.find(f.getObjectHandle().getObjGen());
                form.fields.push_back({f.getAlternativeName(), std::move(value), p == page_of.end() ? -1 : p->second});
            }
            return form;
        } catch (const QPDFExc& e) {
            if (e.getErrorCode() == qpdf_e_password && t + 1 < tries.size()) continue;
            if (e.getErrorCode() == qpdf_e_password)
                return Error{passwords.empty()
                                 ? "the PDF is encrypted (password-protected); give its password with --password-file"
                                 : "the PDF is encrypted and none of the --password-file passwords opens it"};
            return Error{std::string("form fields: ") + e.what()};
        } catch (const std::exception& e) {
            return Error{std::string("form fields: ") + e.what()};
        }
    }
    return Error{"the PDF is encrypted (password-protected)"};
}

Result<std::vector<std::string>> pdf_passwords() {
    const char* path = std::getenv("TERRAFERMA_PDF_PASSWORD_FILE");
    if (path == nullptr || *path == '\0') return std::vector<std::string>{};
    std::ifstream f(path, std::ios::binary);
    if (!f) return Error{std::string("cannot read the password file ") + path};
    std::vector<std::string> out;
    for (std::string line; std::getline(f, line) && out.size() < 64;) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (!line.empty()) out.push_back(line);
    }
    if (out.empty()) return Error{std::string("the password file ") + path + " has no password"};
    return out;
}

}  // namespace tf::pipeline
