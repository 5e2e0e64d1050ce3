"""Receipts and vendor bills with known fields, rendered like real ones for the OCR tests.

Each document is drawn with a real TrueType font (DejaVu / Liberation from the Debian
packages) to a PNG, a JPEG, a scanned (image-only) PDF or a PDF with a text layer
(reportlab); some are rotated a few degrees, sheared (a skewed scan) or noisy. The
fields a reader should find are kept beside each file, so a test can score extraction.

>>> docs = generate_receipts(tmp_path, vendors, count=24, seed=7)  # doctest: +SKIP
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

__all__ = ["FONTS", "Receipt", "Vendor", "generate_receipts", "render_receipt"]

FONTS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSerif-Regular.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationMono-Regular.ttf",
)
_ITEMS = (
    "Printer paper A4",
    "Taxi fare",
    "Hotel night",
    "Business lunch",
    "Train ticket",
    "Toner cartridge",
    "Parking",
    "Coffee beans",
    "USB-C cable",
    "Conference pass",
    "Notebooks",
    "Fuel",
)
_TAX_RATES = (Decimal("19"), Decimal("20"), Decimal("21"), Decimal("7"), Decimal("10"))
_CENT = Decimal("0.01")


@dataclass(frozen=True)
class Vendor:
    """A vendor as Odoo knows it (``res.partner``): name and tax id (may be empty)."""

    name: str
    vat: str | None
    partner_id: int | None = None


@dataclass
class Receipt:
    """One generated document and the fields printed on it."""

    path: Path
    vendor: Vendor
    date: date
    currency: str
    lines: list[tuple[str, Decimal, Decimal, Decimal]]  # description, qty, unit, amount
    tax_rate: Decimal
    tax: Decimal
    total: Decimal
    number: str
    form: str  # png, jpeg, pdf-scan, pdf-text
    distortions: list[str] = field(default_factory=list)

    @property
    def untaxed(self) -> Decimal:
        """The sum of the lines before tax."""
        return sum((line[3] for line in self.lines), Decimal("0"))


def _money(value: Decimal) -> str:
    return f"{value:,.2f}"


def _date_text(rng: random.Random, day: date) -> str:
    style = rng.randrange(3)
    if style == 0:
        return day.isoformat()
    if style == 1:
        return day.strftime("%d.%m.%Y")
    return day.strftime("%d/%m/%Y")


def text_lines(receipt: Receipt, rng: random.Random) -> list[tuple[str, str]]:
    """The printed lines: (left, right) pairs; right is right-aligned."""
    v = receipt.vendor
    out: list[tuple[str, str]] = [(v.name, ""), ("12 Market Street, 10115 Berlin", "")]
    if v.vat:
        out.append((f"VAT ID: {v.vat}", ""))
    label = rng.choice(("Date", "Invoice date", "Date"))
    out += [
        (f"{label}: {_date_text(rng, receipt.date)}", ""),
        (f"Receipt No: {receipt.number}", ""),
        ("", ""),
    ]
    for desc, qty, unit, amount in receipt.lines:
        out.append((f"{desc}  {qty} x {_money(unit)}", _money(amount)))
    out += [
        ("", ""),
        ("Subtotal", _money(receipt.untaxed)),
        (f"VAT {receipt.tax_rate}%", _money(receipt.tax)),
        (f"TOTAL {receipt.currency}", _money(receipt.total)),
        ("", ""),
        ("Thank you for your visit", ""),
    ]
    return out


def render_receipt(receipt: Receipt, rng: random.Random, font_path: str) -> Image.Image:
    """Draw the receipt on white paper, then apply its distortions."""
    size = rng.randint(26, 30)
    font = ImageFont.truetype(font_path, size)
    lines = text_lines(receipt, rng)
    width, step = 900, int(size * 1.6)
    image = Image.new("L", (width, 80 + step * len(lines)), 255)
    draw = ImageDraw.Draw(image)
    y = 40
    for left, right in lines:
        if left:
            draw.text((50, y), left, font=font, fill=20)
        if right:
            w = draw.textlength(right, font=font)
            draw.text((width - 50 - w, y), right, font=font, fill=20)
            if "smudged" in receipt.distortions and left.startswith("TOTAL"):
                # a stain over the total: still there, no longer clearly legible
                box = (int(width - 60 - w), y - 6, width - 40, y + step - 4)
                image.paste(image.crop(box).filter(ImageFilter.GaussianBlur(4.5)), box[:2])
        y += step
    for distortion in receipt.distortions:
        if distortion == "rotated":
            angle = rng.choice((-1, 1)) * rng.uniform(1.0, 2.5)
            image = image.rotate(angle, expand=True, fillcolor=255, resample=Image.BICUBIC)
        elif distortion == "skewed":
            shear = rng.choice((-1, 1)) * rng.uniform(0.03, 0.07)
            w, h = image.size
            image = image.transform(
                (w + int(abs(shear) * h), h),
                Image.AFFINE,
                (1, shear, -abs(shear) * h if shear > 0 else 0, 0, 1, 0),
                fillcolor=255,
                resample=Image.BICUBIC,
            )
        elif distortion == "noisy":
            image = image.filter(ImageFilter.GaussianBlur(0.6))
            noise = Image.effect_noise(image.size, 30).point(lambda p: 0 if p < 40 else 255)
            image = Image.composite(image, noise, noise)
    return image.convert("RGB")


def _pdf_with_text(receipt: Receipt, rng: random.Random, path: Path) -> None:
    """A born-digital bill: reportlab draws the text, so the PDF has a text layer."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(TTFont("DejaVuSans", FONTS[0]))
    pdf = canvas.Canvas(str(path), pagesize=A4)
    pdf.setFont("DejaVuSans", 11)
    y = A4[1] - 60
    for left, right in text_lines(receipt, rng):
        if left:
            pdf.drawString(60, y, left)
        if right:
            pdf.drawRightString(A4[0] - 60, y, right)
        y -= 18
    pdf.showPage()
    pdf.save()


def generate_receipts(
    folder: Path, vendors: list[Vendor], count: int = 24, seed: int = 17
) -> list[Receipt]:
    """``count`` documents from ``vendors`` in ``folder``, the same for the same seed.

    About half are distorted (rotated, skewed or noisy); forms cycle through PNG, JPEG,
    scanned PDF and PDF with a text layer."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    forms = ("png", "jpeg", "pdf-scan", "png", "jpeg", "pdf-text")
    receipts: list[Receipt] = []
    for i in range(count):
        vendor = vendors[i % len(vendors)]
        lines = []
        for _ in range(rng.randint(1, 3)):
            qty = Decimal(rng.randint(1, 3))
            unit = Decimal(rng.randint(150, 9000)) / 100
            lines.append((rng.choice(_ITEMS), qty, unit, (qty * unit).quantize(_CENT)))
        rate = rng.choice(_TAX_RATES)
        untaxed = sum((line[3] for line in lines), Decimal("0"))
        tax = (untaxed * rate / 100).quantize(_CENT, ROUND_HALF_UP)
        form = forms[i % len(forms)]
        distortions = (
            [] if form == "pdf-text" or i % 2 == 0 else [("rotated", "skewed", "noisy")[i % 3]]
        )
        if form != "pdf-text" and i % 7 == 3:
            distortions = ["rotated", "noisy"]
        suffix = {"png": ".png", "jpeg": ".jpg"}.get(form, ".pdf")
        receipt = Receipt(
            path=folder / f"receipt-{i:03d}{suffix}",
            vendor=vendor,
            date=date(2026, 1, 1) + timedelta(days=rng.randrange(330)),
            currency=rng.choice(("EUR", "EUR", "USD")),
            lines=lines,
            tax_rate=rate,
            tax=tax,
            total=untaxed + tax,
            number=f"R-{rng.randint(10000, 99999)}",
            form=form,
            distortions=distortions,
        )
        if form == "pdf-text":
            _pdf_with_text(receipt, rng, receipt.path)
        else:
            image = render_receipt(receipt, rng, FONTS[i % len(FONTS)])
            if form == "png":
                image.save(receipt.path, "PNG")
            elif form == "jpeg":
                image.save(receipt.path, "JPEG", quality=rng.randint(70, 90))
            else:
                buffer = io.BytesIO()
                image.save(buffer, "PDF", resolution=200.0)
                receipt.path.write_bytes(buffer.getvalue())
        receipts.append(receipt)
    return receipts
