// Spreadsheets, OpenDocument text and CSV as companies send them, built here as minimal but
// valid files: cell types, shared strings, dates by number format, repeated empty cells,
// footnotes; misnamed files read by their parts; members that inflate past the cap refused.
#include "pipeline/spreadsheet.h"

#include <gtest/gtest.h>
#include <zip.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "pipeline/document.h"
#include "pipeline/zip_archive.h"
#include "support/zip.h"

namespace {

using tf::test::make_zip;

std::string xlsx() {
    const std::string ns =
        R"( xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships")";
    return make_zip({
        {"[Content_Types].xml", "<Types/>"},
        {"xl/workbook.xml",
         "<workbook" + ns +
             R"(><sheets><sheet name="Invoices" sheetId="1" r:id="rId1"/><sheet name="Notes" sheetId="2" r:id="rId2"/></sheets></workbook>)"},
        {"xl/_rels/workbook.xml.rels",
         R"(<Relationships><Relationship Id="rId1" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Target="worksheets/sheet2.xml"/></Relationships>)"},
        {"xl/sharedStrings.xml",
         "<sst" + ns +
             R"(><si><t>Number</t></si><si><t>Total</t></si><si><r><t>Due </t></r><r><t>date</t></r></si><si><t>Paid</t></si></sst>)"},
        {"xl/styles.xml",
         "<styleSheet" + ns +
             R"(><numFmts><numFmt numFmtId="164" formatCode="dd/mm/yyyy;@"/><numFmt numFmtId="165" formatCode="#,##0.00 [$€-407]"/></numFmts>)"
             R"(<cellXfs><xf numFmtId="0"/><xf numFmtId="14"/><xf numFmtId="164"/><xf numFmtId="165"/></cellXfs></styleSheet>)"},
        {"xl/worksheets/sheet1.xml",
         "<worksheet" + ns +
             R"(><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c><c r="C1" t="s"><v>2</v></c><c r="D1" t="s"><v>3</v></c></row>)"
             R"(<row r="2"><c r="A2"><v>1001</v></c><c r="B2" s="3"><v>1234.56</v></c><c r="C2" s="1"><v>45322</v></c><c r="D2" t="b"><v>1</v></c></row>)"
             R"(<row r="4"><c r="A4"><v>1002</v></c><c r="C4" s="2"><v>45351</v></c><c r="D4" t="b"><v>0</v></c></row></sheetData></worksheet>)"},
        {"xl/worksheets/sheet2.xml",
         "<worksheet" + ns + R"(><sheetData><row r="1"><c r="B1" t="inlineStr"><is><t>ask	about
VAT</t></is></c></row></sheetData></worksheet>)"},
    });
}

TEST(Spreadsheet, xlsx_sheets_cells_and_dates) {
    auto text = tf::pipeline::xlsx_to_text(xlsx());
    ASSERT_TRUE(text.ok()) << text.error().message;
    EXPECT_EQ(*text,
              "## Sheet: Invoices\nNumber\tTotal\tDue "
              "date\tPaid\n1001\t1234.56\t2024-01-31\tTRUE\n1002\t\t2024-02-29\tFALSE\n\n"
              "## Sheet: Notes\n\task about VAT\n\n");
}

TEST(Spreadsheet, ods_types_and_repeated_cells) {
    const std::string content =
        R"(<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0">)"
        R"(<office:body><office:spreadsheet><table:table table:name="Q1">)"
        R"(<table:table-row><table:table-cell office:value-type="string"><text:p>Item</text:p></table:table-cell><table:table-cell office:value-type="string"><text:p>Amount</text:p></table:table-cell><table:table-cell office:value-type="string"><text:p>When</text:p></table:table-cell></table:table-row>)"
        R"(<table:table-row><table:table-cell office:value-type="string"><text:p>Paper</text:p></table:table-cell><table:table-cell office:value-type="currency" office:value="19.9"><text:p>19,90 €</text:p></table:table-cell>)"
        R"(<table:table-cell office:value-type="date" office:date-value="2024-03-05"><text:p>05.03.24</text:p></table:table-cell><table:table-cell table:number-columns-repeated="1020"/></table:table-row>)"
        R"(<table:table-row table:number-rows-repeated="1048000"><table:table-cell table:number-columns-repeated="1024"/></table:table-row>)"
        R"(</table:table></office:spreadsheet></office:body></office:document-content>)";
    const std::string bytes =
        make_zip({{"mimetype", "application/vnd.oasis.opendocument.spreadsheet"}, {"content.xml", content}});
    EXPECT_EQ(tf::pipeline::detect_format("q1.ods", bytes), "ods");
    auto text = tf::pipeline::ods_to_text(bytes);
    ASSERT_TRUE(text.ok()) << text.error().message;
    EXPECT_EQ(*text, "## Sheet: Q1\nItem\tAmount\tWhen\nPaper\t19.9\t2024-03-05\n\n");
}

TEST(Spreadsheet, csv_delimiter_quotes_and_encoding) {
    auto t = tf::pipeline::csv_to_text(
        "Name;Betrag;Datum\r\n\"M\xC3\xBCller; GmbH\";\"1.234,56 \xE2\x82\xAC\";2024-01-31\r\n\"two\nlines\";\"say "
        "\"\"hi\"\"\";\r\n");
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(*t, "Name\tBetrag\tDatum\nMüller; GmbH\t1.234,56 €\t2024-01-31\ntwo lines\tsay \"hi\"\n");
    t = tf::pipeline::csv_to_text("a,b,c\n1,2,3\n");
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(*t, "a\tb\tc\n1\t2\t3\n");
    // Through the reader: a Windows-1252 CSV file.
    auto d = tf::pipeline::read_document("export.csv", "Kunde;Summe\nK\xF6ln AG;99,00 \x80\n");
    ASSERT_TRUE(d.ok()) << d.error().message;
    EXPECT_EQ(d->kind, "csv");
    EXPECT_EQ(d->text, "Kunde\tSumme\nKöln AG\t99,00 €\n");
}

TEST(Spreadsheet, odt_headings_lists_tables_and_notes) {
    const std::string content =
        R"(<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0">)"
        R"(<office:body><office:text><text:h text:outline-level="2">Terms</text:h><text:p>Pay within<text:s text:c="2"/>30 days<text:note text:note-class="footnote"><text:note-citation>1</text:note-citation><text:note-body><text:p>Bank days.</text:p></text:note-body></text:note>.</text:p>)"
        R"(<text:list><text:list-item><text:p>first</text:p></text:list-item><text:list-item><text:p>second</text:p></text:list-item></text:list>)"
        R"(<table:table><table:table-row><table:table-cell><text:p>Item</text:p></table:table-cell><table:table-cell><text:p>Price</text:p></table:table-cell></table:table-row></table:table>)"
        R"(</office:text></office:body></office:document-content>)";
    const std::string bytes =
        make_zip({{"mimetype", "application/vnd.oasis.opendocument.text"}, {"content.xml", content}});
    auto d = tf::pipeline::read_document("contract.pdf", bytes);  // misnamed: read by its parts
    ASSERT_TRUE(d.ok()) << d.error().message;
    EXPECT_EQ(d->kind, "odt");
    EXPECT_EQ(
        d->text,
        "## Terms\n\nPay within  30 days[1].\n\n- first\n- second\n\nItem\tPrice\n\n## Notes\n\n[1] Bank days.\n");
    ASSERT_EQ(d->warnings.size(), 1u);
    EXPECT_NE(d->warnings[0].find("named .pdf"), std::string::npos);
    // The XLSX named .docx is an XLSX.
    auto x = tf::pipeline::read_document("report.docx", xlsx());
    ASSERT_TRUE(x.ok()) << x.error().message;
    EXPECT_EQ(x->kind, "xlsx");
}

TEST(Spreadsheet, members_that_inflate_past_the_cap_are_refused) {
    const std::string bytes = make_zip({{"big.xml", std::string(3u << 20, 'a')}});
    ASSERT_LT(bytes.size(), 64u << 10);  // 3 MiB of one letter compresses to almost nothing
    auto zip = tf::pipeline::ZipArchive::open(bytes);
    ASSERT_TRUE(zip.ok());
    auto r = zip->read("big.xml", 1u << 20);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("big.xml"), std::string::npos) << r.error().message;
    EXPECT_TRUE(zip->read("big.xml", 4u << 20).ok());
    auto broken = tf::pipeline::read_document("x.xlsx", std::string("PK\x03\x04 not really a zip", 22));
    ASSERT_FALSE(broken.ok());
    EXPECT_NE(broken.error().message.find("x.xlsx"), std::string::npos) << broken.error().message;
}

}  // namespace
