// What a PDF form holds beyond its pages' text: AcroForm field values with their names (a
// filled-in form whose values have no appearance on the page are otherwise lost), and XFA
// forms' data (whose pages often show only Adobe's "Please wait..." placeholder).
#pragma once

#include <string>
#include <vector>

#include "util/result.h"

namespace tf::pipeline {

struct PdfFormField {
    std::string name;   // the field's user-facing name (/TU) when it has one, else its full name
    std::string value;  // text, the chosen option(s), "checked"
    int page = -1;      // 0-based page of its widget; -1 when it has none
};

struct PdfForm {
    std::vector<PdfFormField> fields;    // AcroForm fields that have a value
    bool xfa = false;                    // the form is (also) an XFA form
    std::vector<PdfFormField> xfa_data;  // leaf values of its XFA datasets, with their paths
};

// The form of a PDF (empty when it has none). `passwords` are tried in turn for an encrypted
// file. Reading the structure needs no rendering: it is cheap for any page count.
Result<PdfForm> pdf_form(const std::string& bytes, const std::vector<std::string>& passwords);

// The passwords to try for encrypted PDFs: the lines of the file named by
// TERRAFERMA_PDF_PASSWORD_FILE (`--password-file`), none when unset.
Result<std::vector<std::string>> pdf_passwords();

}  // namespace tf::pipeline
