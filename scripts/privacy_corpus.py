#!/usr/bin/env python3
"""Builds tests/router/data/privacy_corpus.jsonl: labelled snippets in Italian, English, German,
French and Spanish for the privacy guard's detectors. Check digits are computed here, apart from
the product's code; the negatives are the look-alikes documents are full of (invoice and order
numbers, EAN codes, dates that are not birthdays, identifiers with a wrong check digit).
Deterministic (fixed seed): run it again and the file is the same.

    python3 scripts/privacy_corpus.py > tests/router/data/privacy_corpus.jsonl
"""
import json
import random

rnd = random.Random(20261207)

def digits(n):
    return ''.join(rnd.choice('0123456789') for _ in range(n))

# --- identifiers with their check digits ------------------------------------------------------
IBAN_LEN = {'IT': 27, 'DE': 22, 'FR': 27, 'ES': 24, 'GB': 22, 'NL': 18, 'BE': 16, 'AT': 20, 'CH': 21}

def iban(cc):
    n = IBAN_LEN[cc]
    if cc == 'IT':
        bban = rnd.choice('ABCDEFGHIJKLMNOPQRSTUVWXYZ') + digits(10) + digits(12)
    elif cc == 'GB':
        bban = ''.join(rnd.choice('ABCDEFGHIJKLMNOPQRSTUVWXYZ') for _ in range(4)) + digits(14)
    else:
        bban = digits(n - 4)
    num = int(''.join(str(int(ch, 36)) for ch in bban + cc + '00'))
    check = 98 - num % 97
    s = cc + '%02d' % check + bban
    return ' '.join(s[i:i + 4] for i in range(0, len(s), 4)) if rnd.random() < 0.7 else s

def luhn_complete(prefix, length):
    body = prefix + digits(length - len(prefix) - 1)
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return body + str((10 - total % 10) % 10)

def card():
    kind = rnd.choice(['visa', 'mc', 'amex', 'disc'])
    if kind == 'visa':
        n = luhn_complete('4', 16)
    elif kind == 'mc':
        n = luhn_complete(str(rnd.randint(51, 55)), 16)
    elif kind == 'amex':
        n = luhn_complete(rnd.choice(['34', '37']), 15)
        return n[:4] + ' ' + n[4:10] + ' ' + n[10:]
    else:
        n = luhn_complete('6011', 16)
    sep = rnd.choice([' ', '-', ''])
    return sep.join(n[i:i + 4] for i in range(0, 16, 4))

CF_ODD = dict(zip('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ',
                  [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8,
                   12, 14, 16, 10, 22, 25, 24, 23]))

def cf_check(s15):
    total = 0
    for i, ch in enumerate(s15):
        if i % 2 == 0:
            total += CF_ODD[ch]
        else:
            total += int(ch) if ch.isdigit() else ord(ch) - ord('A')
    return chr(ord('A') + total % 26)

def codice_fiscale():
    letters = ''.join(rnd.choice('BCDFGLMNPRSTVZ') for _ in range(6))
    day = rnd.randint(1, 28) + (40 if rnd.random() < 0.5 else 0)
    s = letters + '%02d' % rnd.randint(40, 99) + rnd.choice('ABCDEHLMPRST') + '%02d' % day + \
        rnd.choice('ABCDEFGHILMZ') + digits(3)
    return s + cf_check(s)

def partita_iva():
    body = digits(7) + '%03d' % rnd.randint(1, 100)
    total = 0
    for i, ch in enumerate(body):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return body + str((10 - total % 10) % 10)

DNI = 'TRWAGMYFPDXBNJZSQVHLCKE'

def dni():
    n = rnd.randint(10000000, 99999999)
    return '%08d%s' % (n, DNI[n % 23]) if rnd.random() < 0.7 else '%08d-%s' % (n, DNI[n % 23])

def nie():
    lead = rnd.randint(0, 2)
    n = rnd.randint(0, 9999999)
    return 'XYZ'[lead] + '%07d' % n + DNI[(lead * 10000000 + n) % 23]

def nir():
    s = str(rnd.choice([1, 2])) + '%02d' % rnd.randint(40, 99) + '%02d' % rnd.randint(1, 12) + \
        '%02d' % rnd.randint(1, 95) + '%03d' % rnd.randint(1, 990) + '%03d' % rnd.randint(1, 999)
    key = 97 - int(s) % 97
    full = s + '%02d' % key
    if rnd.random() < 0.6:
        return ' '.join([full[0], full[1:3], full[3:5], full[5:7], full[7:10], full[10:13], full[13:]])
    return full

def steuer_id():
    while True:
        first = digits(10)
        if first[0] == '0':
            continue
        counts = [first.count(d) for d in '0123456789']
        if sum(1 for c in counts if c >= 2) == 1 and max(counts) <= 3 and counts.count(0) in (1, 2):
            break
    product = 10
    for ch in first:
        s = (int(ch) + product) % 10
        if s == 0:
            s = 10
        product = (s * 2) % 11
    check = 11 - product
    if check == 10:
        check = 0
    full = first + str(check)
    return full if rnd.random() < 0.6 else full[:2] + ' ' + full[2:5] + ' ' + full[5:8] + ' ' + full[8:]

def ssn():
    area = rnd.choice([a for a in range(1, 900) if a != 666])
    return '%03d-%02d-%04d' % (area, rnd.randint(1, 99), rnd.randint(1, 9999))

def wrong_last(s):  # the same shape, the last check character wrong
    last = s[-1]
    if last.isdigit():
        return s[:-1] + str((int(last) + rnd.randint(1, 9)) % 10)
    return s[:-1] + chr(ord('A') + (ord(last) - ord('A') + rnd.randint(1, 25)) % 26)

FIRST = ['Mario', 'Giulia', 'Anna', 'Luca', 'John', 'Mary', 'Hans', 'Petra', 'Jean', 'Claire', 'Carlos', 'Lucía']
LAST = ['Rossi', 'Bianchi', 'Smith', 'Johnson', 'Müller', 'Schmidt', 'Dubois', 'Martin', 'García', 'López']
DOMAINS = ['example.com', 'azienda.it', 'firma.de', 'societe.fr', 'empresa.es', 'mail.co.uk']

def email():
    f, l = rnd.choice(FIRST), rnd.choice(LAST)
    ascii_ = lambda s: s.lower().replace('ü', 'u').replace('í', 'i')
    return '%s.%s@%s' % (ascii_(f), ascii_(l), rnd.choice(DOMAINS))

def phone(lang):
    if lang == 'it':
        return rnd.choice(['+39 02 %s %s' % (digits(4), digits(4)), '347 %s %s' % (digits(3), digits(4)),
                           '06 %s%s' % (digits(4), digits(4))])
    if lang == 'de':
        return rnd.choice(['+49 30 %s' % digits(8), '0151 %s %s' % (digits(4), digits(4)), '089 %s' % digits(7)])
    if lang == 'fr':
        return rnd.choice(['+33 1 %s %s %s %s' % (digits(2), digits(2), digits(2), digits(2)),
                           '06 %s %s %s %s' % (digits(2), digits(2), digits(2), digits(2))])
    if lang == 'es':
        return rnd.choice(['+34 91%s %s %s' % (digits(1), digits(3), digits(3)), '6%s %s %s' % (digits(2), digits(3), digits(3))])
    return rnd.choice(['+1 415 %s %s' % (str(rnd.randint(200, 999)), digits(4)), '+44 20 7946 0%s' % digits(3)])

MONTHS = {'it': ['gennaio', 'marzo', 'luglio', 'dicembre'], 'en': ['January', 'March', 'July', 'December'],
          'de': ['Januar', 'März', 'Juli', 'Dezember'], 'fr': ['janvier', 'mars', 'juillet', 'décembre'],
          'es': ['enero', 'marzo', 'julio', 'diciembre']}

def birth_date(lang):
    d, m, y = rnd.randint(1, 28), rnd.randint(1, 12), rnd.randint(1940, 2005)
    if rnd.random() < 0.5:
        return rnd.choice(['%02d/%02d/%d', '%d.%d.%d', '%02d-%02d-%d']) % (d, m, y)
    month = rnd.choice(MONTHS[lang])
    return ('%d de %s de %d' if lang == 'es' else '%d %s %d') % (d, month, y)

# --- sentences -------------------------------------------------------------------------------
T = {
    'iban': {'it': 'Vi preghiamo di effettuare il bonifico sul conto IBAN {} entro fine mese.',
             'en': 'Please transfer the amount to account {} by the end of the month.',
             'de': 'Bitte überweisen Sie den Betrag auf das Konto {} bis Monatsende.',
             'fr': 'Merci de virer le montant sur le compte {} avant la fin du mois.',
             'es': 'Por favor transfiera el importe a la cuenta {} antes de fin de mes.'},
    'card': {'it': 'Pagamento con carta {} autorizzato.', 'en': 'Charged to card {} on file.',
             'de': 'Belastet auf Kreditkarte {}.', 'fr': 'Débité sur la carte {}.', 'es': 'Cargado en la tarjeta {}.'},
    'it_codice_fiscale': {'it': 'Il cliente, codice fiscale {}, residente a Milano.',
                          'en': 'Italian tax code of the employee: {}.', 'de': 'Italienische Steuernummer: {}.',
                          'fr': 'Code fiscal italien du salarié : {}.', 'es': 'Código fiscal italiano: {}.'},
    'it_partita_iva': {'it': 'Fornitore: Alfa S.r.l., P.IVA {}, via Roma 1.', 'en': 'Supplier VAT number {}.',
                       'de': 'Lieferant, USt-IdNr. IT{}.', 'fr': 'Fournisseur, numéro de TVA IT{}.',
                       'es': 'Proveedor italiano, NIF-IVA {}.'},
    'es_dni': {'it': 'Documento del cliente spagnolo: DNI {}.', 'en': 'Spanish ID card (DNI) {} verified.',
               'de': 'Spanischer Ausweis DNI {}.', 'fr': "Pièce d'identité espagnole DNI {}.",
               'es': 'El titular, con DNI {}, firma el contrato.'},
    'es_nie': {'it': 'Numero NIE {} del lavoratore.', 'en': 'Foreign resident number NIE {}.',
               'de': 'Ausländernummer NIE {}.', 'fr': 'Numéro NIE {}.', 'es': 'Extranjero con NIE {} empadronado.'},
    'fr_nir': {'it': 'Numero di previdenza francese {}.', 'en': 'French social security number {}.',
               'de': 'Französische Sozialversicherungsnummer {}.', 'fr': 'Numéro de sécurité sociale : {}.',
               'es': 'Número de seguridad social francés {}.'},
    'de_steuer_id': {'it': 'Codice fiscale tedesco (Steuer-ID) {}.', 'en': 'German tax ID (Steuer-ID) {}.',
                     'de': 'Steuerliche Identifikationsnummer: {}.', 'fr': 'Identifiant fiscal allemand (Steuer-ID) {}.',
                     'es': 'Identificación fiscal alemana (Steuer-ID) {}.'},
    'us_ssn': {'it': 'Numero SSN statunitense {}.', 'en': 'Employee SSN: {}.', 'de': 'US-Sozialversicherungsnummer {}.',
               'fr': 'Numéro SSN américain {}.', 'es': 'Número de seguro social de EE. UU. {}.'},
    'email': {'it': 'Per informazioni scrivere a {}.', 'en': 'Contact {} for details.', 'de': 'Kontakt: {}.',
              'fr': 'Écrivez à {} pour toute question.', 'es': 'Escriba a {} para más información.'},
    'phone': {'it': 'Tel. {} (ufficio acquisti).', 'en': 'Call us at {} during office hours.',
              'de': 'Telefon: {} (Zentrale).', 'fr': 'Téléphone : {} (accueil).', 'es': 'Teléfono: {} (oficina).'},
    'date_of_birth': {'it': 'Mario Rossi, nato il {} a Torino.', 'en': 'John Smith, born {} in Leeds.',
                      'de': 'Hans Müller, geboren am {} in Köln.', 'fr': 'Claire Martin, née le {} à Lyon.',
                      'es': 'Lucía García, nacida el {} en Sevilla.'},
}

GEN = {'iban': lambda l: iban(rnd.choice(list(IBAN_LEN))), 'card': lambda l: card(),
       'it_codice_fiscale': lambda l: codice_fiscale(), 'it_partita_iva': lambda l: partita_iva(),
       'es_dni': lambda l: dni(), 'es_nie': lambda l: nie(), 'fr_nir': lambda l: nir(),
       'de_steuer_id': lambda l: steuer_id(), 'us_ssn': lambda l: ssn(), 'email': lambda l: email(),
       'phone': phone, 'date_of_birth': birth_date}

LANGS = ['it', 'en', 'de', 'fr', 'es']
rows = []
for kind, gen in GEN.items():
    for k in range(45):
        lang = LANGS[k % 5]
        value = gen(lang)
        text = T[kind][lang].format(value)
        if kind in ('it_partita_iva',) and ('IT{}' in T[kind][lang]):
            value = 'IT' + value
        rows.append({'lang': lang, 'text': text, 'spans': [{'type': kind, 'text': value}]})

# Negatives: what documents are full of and is not personal data.
NEG = {
    'it': ['Fattura n. {} del 12/03/2024, scadenza 30 giorni.', 'Ordine {} spedito con corriere.',
           'Codice articolo EAN {} disponibile a magazzino.', 'Totale imponibile 1.234,56 EUR, IVA 22% 271,60 EUR.',
           'Protocollo {} del registro interno.'],
    'en': ['Invoice no. {} dated 2024-03-12, payment due in 30 days.', 'Order #{} has shipped.',
           'Product EAN {} is back in stock.', 'Total 1,234.56 USD including tax.', 'Reference {} in our system.'],
    'de': ['Rechnung Nr. {} vom 12.03.2024, zahlbar in 30 Tagen.', 'Bestellung {} wurde versandt.',
           'Artikel EAN {} wieder lieferbar.', 'Gesamtbetrag 1.234,56 EUR inkl. MwSt.', 'Aktenzeichen {} vermerkt.'],
    'fr': ['Facture n° {} du 12/03/2024, payable à 30 jours.', 'Commande {} expédiée.',
           'Article EAN {} de nouveau disponible.', 'Total 1 234,56 EUR TTC.', 'Dossier {} enregistré.'],
    'es': ['Factura n.º {} del 12/03/2024, vencimiento a 30 días.', 'Pedido {} enviado.',
           'Artículo EAN {} disponible de nuevo.', 'Total 1.234,56 EUR IVA incluido.', 'Expediente {} registrado.'],
}

def negative_value(k):
    choice = k % 9
    if choice == 0:
        return digits(rnd.choice([9, 10, 11, 12]))          # order / invoice numbers
    if choice == 1:
        return '%d/%06d' % (rnd.randint(2019, 2025), rnd.randint(1, 999999))
    if choice == 2:
        return digits(13)                                    # EAN-13
    if choice == 3:
        return wrong_last(iban(rnd.choice(list(IBAN_LEN))).replace(' ', ''))
    if choice == 4:
        return wrong_last(luhn_complete('4', 16))
    if choice == 5:
        return wrong_last(codice_fiscale())
    if choice == 6:
        return wrong_last(dni().replace('-', ''))
    if choice == 7:
        return 'PO-%s-%s' % (digits(4), digits(4))
    return wrong_last(nir().replace(' ', ''))

for k in range(175):
    lang = LANGS[k % 5]
    template = NEG[lang][k % len(NEG[lang])]
    rows.append({'lang': lang, 'text': template.format(negative_value(k)), 'spans': []})

for r in rows:
    print(json.dumps(r, ensure_ascii=False))
