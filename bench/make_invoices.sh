#!/usr/bin/env bash
# Writes N generated invoices (about 150 words each, all different) into DIR, for the pipeline
# benchmarks.   bench/make_invoices.sh DIR N
set -euo pipefail
dir=${1:?usage: make_invoices.sh DIR N}
n=${2:?usage: make_invoices.sh DIR N}
mkdir -p "$dir"
for ((i = 0; i < n; i++)); do
    cat >"$dir/invoice-$i.txt" <<DOC
INVOICE

Invoice no. 2025-$((1000 + i))
Date: $((1 + i % 28)) March 2025
Due: $((1 + i % 28)) April 2025

From: Supplier $((i * 37 % 101)) GmbH, Industriestraße $((i % 90 + 1)), $((10000 + i * 7)) Berlin, Germany
To: Customer $((i * 53 % 97)) SARL, $((i % 40 + 1)) Rue du Port, 1300$((i % 10)) Marseille, France

Item                          Qty   Unit price   Amount
Copy paper, A4, 500 sheets     $((i % 9 + 1))        4.90    $(( (i % 9 + 1) * 49 / 10 )).$(( (i % 9 + 1) * 49 % 10 ))0
Toner cartridge, black         $((i % 3 + 1))       61.00   $(( (i % 3 + 1) * 61 )).00
Desk lamp, LED                 1        $((20 + i % 30)).00    $((20 + i % 30)).00

Payment by bank transfer within 30 days. Please quote the invoice number with your payment.
Late payments are charged interest at the statutory rate. Goods remain our property until paid in full.
DOC
done
