#!/usr/bin/env python3
"""Generate the sample product catalogue for the Multilingual Product Inference System.

Everything below was written by hand for this project (no third-party data).
The script is deterministic (fixed seed) and uses the standard library only.

Outputs, written next to this file:
  catalog.jsonl     {"id", "name", "brand", "category"} per line
  aliases.json      {"brands": {label: [surface forms]}, "categories": {label: [keywords]}}
  demo_names.jsonl  {"id", "name"} per line; names that are not in the catalogue

Run:  python data/sample/generate_catalog.py
"""
from __future__ import annotations

import json
import random
import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

SEED = 20240611
HERE = Path(__file__).resolve().parent

# ---------------------------------------------------------------------------
# 1. Categories: label -> list of (English keyword, Thai keyword) pairs.
#    A product line may pin one pair by index (third field of a line spec);
#    otherwise a pair is drawn at random.
# ---------------------------------------------------------------------------
CATEGORIES: dict[str, list[tuple[str, str]]] = {
    "Toothpaste": [("Toothpaste", "ยาสีฟัน")],
    "Toothbrush": [("Toothbrush", "แปรงสีฟัน")],
    "Mouthwash": [("Mouthwash", "น้ำยาบ้วนปาก")],
    "Shampoo": [("Shampoo", "แชมพู")],
    "Body Wash": [("Body Wash", "ครีมอาบน้ำ"), ("Shower Cream", "สบู่เหลว")],
    "Laundry Detergent": [("Laundry Powder", "ผงซักฟอก"), ("Liquid Detergent", "น้ำยาซักผ้า")],
    "Fabric Softener": [("Fabric Softener", "น้ำยาปรับผ้านุ่ม")],
    "Dishwashing Liquid": [("Dishwashing Liquid", "น้ำยาล้างจาน")],
    "Instant Noodles": [("Instant Noodles", "บะหมี่กึ่งสำเร็จรูป"), ("Noodles", "บะหมี่")],
    "Soft Drink": [("Soft Drink", "น้ำอัดลม")],
    "Energy Drink": [("Energy Drink", "เครื่องดื่มชูกำลัง")],
    "Drinking Water": [("Drinking Water", "น้ำดื่ม")],
    "Instant Coffee": [("Instant Coffee", "กาแฟสำเร็จรูป"), ("Coffee", "กาแฟ")],
    "UHT Milk": [("UHT Milk", "นมยูเอชที"), ("Milk", "นม")],
    "Yogurt Drink": [("Yogurt Drink", "นมเปรี้ยว"), ("Drinking Yoghurt", "โยเกิร์ตพร้อมดื่ม")],
    "Beer": [("Beer", "เบียร์")],
    "Potato Chips": [("Potato Chips", "มันฝรั่งทอดกรอบ"), ("Chips", "มันฝรั่งแผ่น")],
    "Seaweed Snack": [("Crispy Seaweed", "สาหร่ายทอดกรอบ"), ("Seaweed Snack", "สาหร่าย")],
    "Biscuits": [("Biscuits", "บิสกิต"), ("Cookies", "คุกกี้")],
    "Chocolate": [("Chocolate", "ช็อกโกแลต")],
    "Fish Sauce": [("Fish Sauce", "น้ำปลา")],
    "Soy Sauce": [("Soy Sauce", "ซีอิ๊วขาว"), ("Sweet Soy Sauce", "ซีอิ๊วดำหวาน"),
                  ("Seasoning Sauce", "ซอสปรุงรส")],
    "Cooking Oil": [("Palm Oil", "น้ำมันปาล์ม"), ("Soybean Oil", "น้ำมันถั่วเหลือง"),
                    ("Cooking Oil", "น้ำมันพืช")],
    "Rice": [("Jasmine Rice", "ข้าวหอมมะลิ"), ("Rice", "ข้าวสาร"), ("Brown Rice", "ข้าวกล้อง")],
    "Canned Tuna": [("Tuna", "ทูน่า"), ("Canned Tuna", "ทูน่ากระป๋อง")],
    "Smartphone": [("Smartphone", "สมาร์ทโฟน"), ("Mobile Phone", "โทรศัพท์มือถือ")],
    "Headphones": [("Wireless Headphones", "หูฟังไร้สาย"), ("True Wireless Earbuds", "หูฟังบลูทูธ")],
    "Laptop": [("Laptop", "แล็ปท็อป"), ("Notebook", "โน้ตบุ๊ก")],
    "Skin Care": [("Facial Foam", "โฟมล้างหน้า"), ("Body Lotion", "โลชั่นบำรุงผิว"),
                  ("Serum", "เซรั่ม"), ("Cream", "ครีมบำรุงผิวหน้า"),
                  ("Micellar Water", "ไมเซล่าวอเตอร์")],
    "Sunscreen": [("Sunscreen", "ครีมกันแดด"), ("Sun Serum", "เซรั่มกันแดด"),
                  ("Sun Spray", "สเปรย์กันแดด")],
    "Deodorant": [("Roll On", "โรลออน"), ("Deodorant Spray", "สเปรย์ระงับกลิ่นกาย"),
                  ("Deodorant Powder", "แป้งระงับกลิ่นกาย")],
    "Diapers": [("Diapers", "ผ้าอ้อมสำเร็จรูป"), ("Diaper Pants", "กางเกงผ้าอ้อม")],
    "Baby Formula": [("Formula Milk", "นมผง")],
    "Pet Food": [("Cat Food", "อาหารแมว"), ("Dog Food", "อาหารสุนัข")],
    "Frozen Food": [("Frozen Food", "อาหารแช่แข็ง"), ("Ready Meal", "อาหารพร้อมทาน")],
    "Breakfast Cereal": [("Cereal", "ซีเรียล"), ("Breakfast Cereal", "อาหารเช้าซีเรียล")],
    "Ready-to-Drink Tea": [("Green Tea", "ชาเขียว"), ("Iced Tea", "ชาพร้อมดื่ม")],
    "Fruit Juice": [("Juice", "น้ำผลไม้"), ("100% Juice", "น้ำผลไม้100%")],
    "Tissue Paper": [("Toilet Tissue", "กระดาษชำระ"), ("Facial Tissue", "กระดาษเช็ดหน้า"),
                     ("Kitchen Towel", "กระดาษอเนกประสงค์")],
    "Functional Drink": [("Vitamin Water", "วิตามินวอเตอร์"), ("Collagen Drink", "เครื่องดื่มคอลลาเจน")],
}
# Extra keywords that occur in hand-written names (listed in aliases.json when used).
EXTRA_KEYWORDS = {"Headphones": ["headphones", "หูฟัง"], "Tissue Paper": ["tissue"]}
TECH = {"Smartphone", "Headphones", "Laptop"}
LIQUIDS = {"Shampoo", "Body Wash", "Laundry Detergent", "Fabric Softener", "Dishwashing Liquid"}

PROMOS_EN = ["Buy 1 Get 1", "Value Pack", "Twin Pack", "Special Price", "Mega Pack", "Buy 2 Save 20%"]
PROMOS_TH = ["แพ็คคู่", "ซื้อ 1 แถม 1", "ราคาพิเศษ", "สุดคุ้ม", "แพ็คประหยัด", "ลดราคา"]
PROMOS_BY_CAT = {  # category-specific promotions, added to the lists above
    "Toothpaste": (["Free Toothbrush"], ["ฟรี! แปรง", "ฟรี! แปรงสีฟัน 1 ด้าม"]),
    "liquid": (["Refill"], ["ถุงเติม", "ชนิดถุงเติม"]),
}
PROMOS_TECH = (["Official Warranty", "Free Case", "Pre-order"],
               ["เครื่องศูนย์ไทย", "ประกันศูนย์ 1 ปี", "ผ่อน 0% 10 เดือน", "ฟรี! เคส"])


# ---------------------------------------------------------------------------
# 2. Brands. One entry per (brand, category); a brand may have two entries.
#    th      Thai surface forms of the brand (first = most common)
#    alt     other Latin spellings / casings used in names
#    lines   "English|Thai|keyword index|size,size" (trailing fields optional)
#    sizes   "150g", "6x325ml", "1.5L", ... or a literal "English|Thai"
#    extra   hand-written names that contain the brand
#    nobrand hand-written names that do not contain the brand in any form
#    also    brand surface forms that only come in through product lines (ไอโฟน)
# ---------------------------------------------------------------------------
@dataclass
class Brand:
    label: str
    category: str
    th: list[str]
    alt: list[str]
    lines: list[str]
    sizes: list[str]
    n: int = 6
    extra: list[str] = field(default_factory=list)
    nobrand: list[str] = field(default_factory=list)
    also: list[str] = field(default_factory=list)


def B(label, category, th="", alt="", lines=(), sizes=(), n=6, extra=(), nobrand=(), also=""):
    split = lambda s: [x for x in s.split(";") if x]
    return Brand(label, category, split(th), split(alt), list(lines), list(sizes), n,
                 list(extra), list(nobrand), split(also))


SIZES_TOOTHBRUSH = ["Soft|ขนนุ่ม", "Medium|ขนกลาง", "Soft Pack 3|ขนนุ่ม แพ็ค 3", "Pack 4|แพ็ค 4"]
SIZES_DIAPER = ["Size M 64 pcs|ไซส์ M 64 ชิ้น", "Size L 54 pcs|ไซส์ L 54 ชิ้น",
                "Size XL 46 pcs|ไซส์ XL 46 ชิ้น", "Size XXL 36 pcs|ไซส์ XXL 36 ชิ้น",
                "Newborn 84 pcs|แรกเกิด 84 ชิ้น"]
SIZES_PHONE = ["8/128GB Black|8/128GB สีดำ", "8/256GB Blue|8/256GB สีฟ้า",
               "12/256GB Silver|12/256GB สีเงิน", "12/512GB Green|12/512GB สีเขียว"]
SIZES_EARPHONE = ["Black|สีดำ", "White|สีขาว", "Blue|สีน้ำเงิน", "Silver|สีเงิน"]
SIZES_LAPTOP = ["i5-1335U 16GB 512GB SSD|i5-1335U/16GB/512GB SSD",
                "Core Ultra 7 16GB 1TB|Core Ultra 7/16GB/1TB",
                "Ryzen 7 16GB 512GB RTX 4050|Ryzen 7/16GB/512GB/RTX4050",
                "i7-13620H 16GB 1TB RTX 4060|i7-13620H/16GB/1TB/RTX4060"]
SIZES_WATER = ["600ml", "1.5L", "6L", "350ml", "12x600ml", "6x1.5L"]
SIZES_CAN = ["325ml", "1.5L", "1.25L", "6x325ml", "12x325ml", "500ml"]
SIZES_BEER = ["320ml", "490ml", "620ml", "6x320ml", "24x320ml", "4x490ml"]

BRANDS: list[Brand] = [
    # --- oral care ---------------------------------------------------------
    B("Colgate", "Toothpaste", "คอลเกต", "COLGATE;colgate",
      ["Total|โททอล", "Maximum Cavity Protection|ป้องกันฟันผุ", "Sensitive Pro-Relief|เซนซิทีฟ โปรรีลีฟ",
       "Optic White|ออพติคไวท์", "Salt Herbal|สูตรเกลือสมุนไพร", "Fresh Cool Mint|เฟรชคูลมินท์",
       "Charcoal Clean|ชาร์โคลคลีน"],
      ["150g", "80g", "35g", "2x150g", "100g"], n=11,
      extra=["ยาสีฟันคอลเกต โททอล 150 กรัม", "ยาสีฟัน Colgate Total 150g",
             "COLGATE ยาสีฟัน สูตรเกลือสมุนไพร 150g แพ็คคู่", "Toothpaste colgate maximum cavity protection 80g"],
      nobrand=["Optic White O2 Toothpaste 85g"]),
    B("Colgate", "Toothbrush", "คอลเกต", "COLGATE",
      ["SlimSoft|สลิมซอฟท์", "Zig Zag|ซิกแซก", "360 Charcoal|360 ชาร์โคล", "Extra Clean|เอ็กซ์ตร้าคลีน"],
      SIZES_TOOTHBRUSH, n=5),
    B("Darlie", "Toothpaste", "ดาร์ลี่", "DARLIE",
      ["Double Action|ดับเบิ้ลแอ็คชั่น", "All Shiny White|ออลชายนี่ไวท์", "Expert White|เอ็กซ์เพิร์ทไวท์",
       "Tea Care|ทีแคร์", "Salt Fresh|ซอลท์เฟรช"],
      ["160g", "80g", "35g", "2x160g"], n=7),
    B("Sensodyne", "Toothpaste", "เซ็นโซดายน์", "",
      ["Rapid Relief|แรพพิด รีลีฟ", "Repair & Protect|รีแพร์ แอนด์ โพรเทคท์", "Multi Care|มัลติแคร์",
       "Gentle Whitening|เจนเทิล ไวท์เทนนิ่ง", "Fresh Mint|เฟรชมินท์"],
      ["100g", "160g", "2x100g"], n=6),
    B("Wonder Smile", "Toothpaste", "วันเดอร์สไมล์", "WONDER SMILE;Wondersmile",
      ["Original|สูตรดั้งเดิม", "Kids|สำหรับเด็ก", "Whitening|ไวท์เทนนิ่ง", "Herbal|สมุนไพร"],
      ["80g", "30g", "2x80g"], n=6),
    B("Dok Bua Ku", "Toothpaste", "ดอกบัวคู่;ตราดอกบัวคู่", "",
      ["Herbal Original|สมุนไพรสูตรดั้งเดิม", "Fresh Breath|ลมหายใจหอมสดชื่น",
       "Herbal Plus Fluoride|สมุนไพรผสมฟลูออไรด์", "Extra Cool|สูตรเย็นพิเศษ"],
      ["150g", "90g", "40g"], n=6),
    B("Oral-B", "Toothbrush", "ออรัลบี", "Oral B;ORAL-B",
      ["CrossAction|ครอสแอคชั่น", "Pro-Health Gum Care|โปรเฮลท์ ดูแลเหงือก", "Charcoal|ชาร์โคล",
       "Ultrathin|อัลตร้าธิน"],
      SIZES_TOOTHBRUSH, n=6),
    B("Systema", "Toothbrush", "ซิสเท็มมา", "SYSTEMA",
      ["Ultra Soft|อัลตร้าซอฟท์", "Original|ออริจินัล", "Charcoal Plus|ชาร์โคลพลัส", "Spiral|สไปรัล"],
      SIZES_TOOTHBRUSH, n=5),
    B("Listerine", "Mouthwash", "ลิสเตอรีน", "LISTERINE",
      ["Cool Mint|คูลมินต์", "Total Care|โทเทิลแคร์", "Green Tea|กรีนที",
       "Zero Alcohol|ซีโร่ ไม่มีแอลกอฮอล์", "Fresh Burst|เฟรชเบิร์สท์"],
      ["750ml", "250ml", "500ml", "2x750ml"], n=6),
    # --- hair & body -------------------------------------------------------
    B("Sunsilk", "Shampoo", "ซันซิล", "SUNSILK",
      ["Smooth & Manageable|สูตรผมตรง", "Damage Restore|สูตรผมเสีย", "Black Shine|สูตรผมดำเงางาม",
       "Hair Fall Solution|สูตรลดผมขาดหลุดร่วง", "Perfect Straight|เพอร์เฟคสเตรท"],
      ["350ml", "425ml", "160ml", "60ml"], n=8,
      extra=["แชมพู Sunsilk สูตรผมตรง 350 มล."]),
    B("Pantene", "Shampoo", "แพนทีน", "PANTENE",
      ["Pro-V Total Damage Care|โททัลแดเมจแคร์", "Hair Fall Control|แฮร์ฟอลคอนโทรล",
       "Micellar Detox|ไมเซล่าดีท็อกซ์", "Silky Smooth Care|ซิลกี้สมูทแคร์",
       "Miracles Bond Repair|มิราเคิล บอนด์ รีแพร์"],
      ["410ml", "300ml", "680ml", "170ml"], n=7, nobrand=["Pro-V Miracles Bond Repair Shampoo 300ml"]),
    B("Head & Shoulders", "Shampoo", "เฮดแอนด์โชว์เดอร์ส", "HEAD&SHOULDERS;Head and Shoulders",
      ["Cool Menthol|คูลเมนทอล", "Smooth & Silky|สมูทแอนด์ซิลกี้", "Anti Hair Fall|แอนตี้แฮร์ฟอล",
       "Lemon Fresh|เลมอนเฟรช", "Apple Fresh|แอปเปิ้ลเฟรช"],
      ["370ml", "410ml", "170ml", "680ml"], n=8,
      extra=["HEAD&SHOULDERS Anti-Dandruff Shampoo Cool Menthol 410ml"]),
    B("Clear", "Shampoo", "เคลียร์", "CLEAR",
      ["Men Cool Sport Menthol|เมน คูลสปอร์ต เมนทอล", "Ice Cool Menthol|ไอซ์คูล เมนทอล",
       "Complete Soft Care|คอมพลีท ซอฟท์แคร์", "Botanique Nine Herbs|โบทานีค 9 สมุนไพร"],
      ["435ml", "330ml", "150ml"], n=6),
    B("Dove", "Body Wash", "โดฟ", "DOVE",
      ["Deeply Nourishing|ดีพลี่ นอริชชิ่ง", "Go Fresh Cucumber|โกเฟรช แตงกวา",
       "Pampering Shea Butter|เชียบัตเตอร์", "Sensitive Skin|สำหรับผิวแพ้ง่าย"],
      ["500ml", "550ml", "220ml", "2x500ml"], n=6),
    B("Lux", "Body Wash", "ลักส์", "LUX",
      ["Soft Rose|ซอฟท์โรส", "Magical Orchid|เมจิคัลออร์คิด", "Velvet Jasmine|เวลเวทจัสมิน",
       "Fresh Splash|เฟรชสแปลช"],
      ["500ml", "450ml", "150ml"], n=6),
    B("Protex", "Body Wash", "โพรเทคส์", "PROTEX",
      ["Thai Therapy|ไทยเทอราพี", "Icy Cool|ไอซ์ซี่คูล", "Propolis|พรอพโพลิส", "Fresh|เฟรช",
       "Herbal|สมุนไพร"],
      ["450ml", "500ml", "180ml"], n=6),
    B("Shokubutsu", "Body Wash", "โชกุบุสซึ", "",
      ["Japanese Peach|ลูกพีชญี่ปุ่น", "Green Tea|ชาเขียว", "Black Charcoal|ถ่านดำ", "Lavender|ลาเวนเดอร์"],
      ["500ml", "200ml", "2x500ml"], n=5),
    # --- home care ---------------------------------------------------------
    B("Breeze", "Laundry Detergent", "บรีส", "BREEZE",
      ["Excel|เอกเซล|0", "Power|พาวเวอร์|0", "Excel Gold|เอกเซล โกลด์|0", "Color|คัลเลอร์|0",
       "Excel Liquid|เอกเซล ลิควิด|1|650ml,1.4L,2.8L"],
      ["800g", "2.7kg", "1.4kg", "400g"], n=7),
    B("Attack", "Laundry Detergent", "แอทแทค", "ATTACK",
      ["Easy|อีซี่|0", "3D Clean Action|ทรีดี คลีนแอคชั่น|0", "Plus Softener|พลัส ซอฟเทนเนอร์|0",
       "Matic Front Load|แมติก ฝาหน้า|1|1.4L,2.3L,700ml"],
      ["800g", "2.5kg", "1.7kg"], n=6),
    B("Omo", "Laundry Detergent", "โอโม่", "OMO",
      ["Plus|พลัส|0", "Perfect Clean|เพอร์เฟค คลีน|0", "Hygienic Clean|ไฮจีนิค คลีน|0",
       "Matic Liquid|แมติก ลิควิด|1|1.4L,2.8L"],
      ["800g", "2.7kg", "4.5kg"], n=6),
    B("Pao", "Laundry Detergent", "เปา", "PAO",
      ["Silver Nano|ซิลเวอร์นาโน|0", "Win Wash|วินวอช|0", "M Wash|เอ็มวอช|0",
       "Silver Nano Liquid|ซิลเวอร์นาโน ชนิดน้ำ|1|700ml,1.5L"],
      ["750g", "2.5kg", "4kg"], n=5),
    B("Downy", "Fabric Softener", "ดาวน์นี่", "DOWNY",
      ["Sunrise Fresh|ซันไรซ์เฟรช", "Mystique|มิสทีค", "Garden Bloom|การ์เด้นบลูม",
       "Sweet Heart|สวีทฮาร์ท", "Ocean Breeze|โอเชี่ยนบรีส"],
      ["1.2L", "500ml", "2.1L", "1.35L", "3x500ml"], n=8,
      nobrand=["น้ำยาปรับผ้านุ่ม สูตรเข้มข้นพิเศษ กลิ่นซันไรซ์เฟรช 1.2 ลิตร"]),
    B("Comfort", "Fabric Softener", "คอมฟอร์ท", "COMFORT",
      ["Ultra|อัลตร้า", "Luxury Perfume|ลักชัวรี่ เพอร์ฟูม", "Pure|เพียว", "Fresh Sakura|เฟรช ซากุระ"],
      ["1.3L", "540ml", "2.8L", "3x540ml"], n=6),
    B("Hygiene", "Fabric Softener", "ไฮยีน", "HYGIENE",
      ["Expert Care|เอ็กซ์เพิร์ทแคร์", "Sunkiss Blooming|ซันคิส บลูมมิ่ง", "Lily Blossom|ลิลลี่ บลอสซั่ม",
       "Happy Sunshine|แฮปปี้ ซันไชน์"],
      ["1150ml", "490ml", "1.3L", "3x490ml"], n=6),
    B("Sunlight", "Dishwashing Liquid", "ซันไลต์", "SUNLIGHT",
      ["Lemon Turbo|เลมอนเทอร์โบ", "Plus Anti-Bacteria|พลัส แอนตี้แบคทีเรีย",
       "Green Tea Japanese Lime|ชาเขียว มะนาวญี่ปุ่น", "Pomegranate|ทับทิม"],
      ["500ml", "750ml", "3.6L", "2x500ml"], n=6),
    B("Lipon F", "Dishwashing Liquid", "ไลปอนเอฟ", "Lipon-F;LIPON F",
      ["Japanese Lemon|เจแปนนิส เลมอน", "Fresh|เฟรช", "Extra Concentrate|สูตรเข้มข้น", "Aloe Vera|ว่านหางจระเข้"],
      ["550ml", "800ml", "3.6L"], n=5),
    # --- instant noodles ---------------------------------------------------
    B("Mama", "Instant Noodles", "มาม่า", "MAMA",
      ["Tom Yum Kung|รสต้มยำกุ้ง", "Minced Pork|รสหมูสับ", "Tom Yum Kung Creamy|รสต้มยำกุ้งน้ำข้น",
       "Pa-Lo Duck|รสเป็ดพะโล้", "Green Curry|รสแกงเขียวหวาน", "Moo Nam Tok|รสหมูน้ำตก",
       "Shrimp Creamy Tom Yum Cup|คัพ รสกุ้งต้มยำน้ำข้น"],
      ["55g", "60g", "10x55g", "6x60g"], n=11,
      nobrand=["Oriental Kitchen Kimchi Ramen 85g", "Oriental Kitchen Hot & Spicy Instant Noodles 87g x4"]),
    B("Wai Wai", "Instant Noodles", "ไวไว", "WAI WAI;Waiwai",
      ["Original Flavour|รสดั้งเดิม", "Quick Zabb Tom Yum|ควิกแสบ รสต้มยำ",
       "Rice Vermicelli Tom Yum|เส้นหมี่ รสต้มยำ", "Pad Kee Mao|รสผัดขี้เมา", "Chicken Soup|รสซุปไก่"],
      ["60g", "55g", "10x60g"], n=7,
      nobrand=["ควิกแสบ รสต้มยำมันกุ้ง 60 กรัม แพ็ค 10"]),
    B("Yum Yum", "Instant Noodles", "ยำยำ", "YumYum;YUM YUM",
      ["Jumbo Tom Yum Kung|จัมโบ้ รสต้มยำกุ้ง", "Moo Manao|รสหมูมะนาว", "Cup Shrimp Tom Yum|คัพ รสต้มยำกุ้ง",
       "Sukiyaki|รสสุกี้ยากี้", "Chicken Green Curry|รสแกงเขียวหวานไก่"],
      ["67g", "63g", "6x67g"], n=6),
    B("Nissin", "Instant Noodles", "นิสชิน", "NISSIN",
      ["Cup Noodles Seafood|คัพนู้ดเดิ้ล ซีฟู้ด", "Premium Tonkotsu|พรีเมียม ทงคตสึ",
       "Spicy Korean|สไปซี่ โคเรียน", "Black Pepper Crab|ปูผัดพริกไทยดำ"],
      ["40g", "60g", "75g", "6x60g"], n=7,
      nobrand=["Cup Noodles Curry 75g"]),
    # --- drinks ------------------------------------------------------------
    B("Coca-Cola", "Soft Drink", "โค้ก;โคคา-โคล่า", "Coke;COCA-COLA",
      ["Original|ออริจินัล", "Zero Sugar|สูตรไม่มีน้ำตาล", "Less Sugar|สูตรน้ำตาลน้อย"],
      SIZES_CAN, n=9),
    B("Pepsi", "Soft Drink", "เป๊ปซี่", "PEPSI",
      ["Max Taste No Sugar|แม็กซ์เทสต์ ไม่มีน้ำตาล", "Cola|โคล่า", "Lime No Sugar|ไลม์ ไม่มีน้ำตาล",
       "Original|รสชาติออริจินัล"],
      ["345ml", "1.45L", "6x345ml", "550ml"], n=6),
    B("Fanta", "Soft Drink", "แฟนต้า", "FANTA",
      ["Strawberry|กลิ่นสตรอเบอร์รี่", "Orange|กลิ่นส้ม", "Grape|กลิ่นองุ่น", "Fruit Punch|ฟรุตพันช์",
       "Green Cream Soda|กลิ่นครีมโซดา"],
      SIZES_CAN, n=6),
    B("Sprite", "Soft Drink", "สไปรท์", "SPRITE",
      ["Lemon-Lime|เลมอนไลม์", "Zero Sugar|สูตรไม่มีน้ำตาล"],
      SIZES_CAN, n=5),
    B("M-150", "Energy Drink", "เอ็มร้อยห้าสิบ;เอ็ม-150", "M150",
      ["Original|ออริจินัล", "Sugar Free|ชูการ์ฟรี", "Energy Shot|เอนเนอร์จี้ช็อต"],
      ["150ml", "10x150ml", "3x150ml"], n=5),
    B("Carabao", "Energy Drink", "คาราบาว;คาราบาวแดง", "CARABAO",
      ["Original|สูตรต้นตำรับ", "Sugar Free|สูตรไม่มีน้ำตาล", "Mixed Berry|มิกซ์เบอร์รี่"],
      ["150ml", "330ml", "10x150ml", "6x330ml"], n=5),
    B("Krating Daeng", "Energy Drink", "กระทิงแดง", "Red Bull",
      ["Original|ต้นตำรับ", "Extra|เอ็กซ์ตร้า", "Sugar Free|สูตรไม่มีน้ำตาล"],
      ["150ml", "250ml", "10x150ml"], n=5),
    B("Singha", "Beer", "สิงห์", "SINGHA",
      ["Lager|ลาเกอร์", "Light|ไลท์", "Premium Lager|พรีเมียมลาเกอร์"],
      SIZES_BEER, n=6),
    B("Singha", "Drinking Water", "สิงห์", "SINGHA",
      ["|", "Eco Bottle|ขวดรักษ์โลก"],
      SIZES_WATER, n=5),
    B("Chang", "Beer", "ช้าง", "CHANG",
      ["Classic|คลาสสิก", "Cold Brew|โคลด์บรูว์", "Espresso Lager|เอสเปรสโซ่ลาเกอร์", "Export|เอ็กซ์ปอร์ต"],
      SIZES_BEER, n=6),
    B("Chang", "Drinking Water", "ตราช้าง;ช้าง", "CHANG",
      ["|", "Mineral|แร่ธรรมชาติ"],
      SIZES_WATER, n=5,
      extra=["น้ำดื่มตราช้าง 600 มล. แพ็ค 12"]),
    B("Leo", "Beer", "ลีโอ", "LEO",
      ["|", "Lager|ลาเกอร์"],
      SIZES_BEER, n=5),
    B("Heineken", "Beer", "ไฮเนเก้น", "HEINEKEN",
      ["Original|ออริจินัล", "0.0 Non-Alcoholic|0.0 ไม่มีแอลกอฮอล์", "Silver|ซิลเวอร์"],
      ["330ml", "490ml", "620ml", "6x330ml", "4x330ml"], n=5),
    B("Crystal", "Drinking Water", "คริสตัล", "CRYSTAL",
      ["|", "Alkali|อัลคาไล"],
      SIZES_WATER, n=5),
    B("Nestle", "Drinking Water", "เนสท์เล่", "Nestlé;NESTLE",
      ["Pure Life|เพียวไลฟ์", "Pure Life Mineral|เพียวไลฟ์ แร่ธรรมชาติ"],
      ["600ml", "1.5L", "12x600ml", "6x1.5L"], n=5,
      nobrand=["Pure Life Drinking Water 1.5L x6"]),
    B("Nestle", "Breakfast Cereal", "เนสท์เล่", "Nestlé;NESTLE",
      ["Koko Krunch|โกโก้ครันช์", "Honey Stars|ฮันนี่สตาร์", "Milo Cereal|ไมโลซีเรียล",
       "Corn Flakes|คอร์นเฟลกส์", "Cookie Crisp|คุกกี้คริสป์"],
      ["330g", "170g", "2x330g", "25g"], n=8,
      nobrand=["Koko Krunch Cereal 330g", "โกโก้ครันช์ ซีเรียล 170 กรัม"]),
    B("Nescafe", "Instant Coffee", "เนสกาแฟ", "NESCAFÉ;Nescafé",
      ["Red Cup|เรดคัพ", "Gold|โกลด์", "Espresso Roast 3in1|เอสเปรสโซ โรสต์ 3อิน1",
       "Blend & Brew Rich Aroma|เบลนด์ แอนด์ บรู ริช อโรมา", "Latte|ลาเต้"],
      ["200g", "100g", "27sachets", "50sachets"], n=8, nobrand=["เรดคัพ กาแฟสำเร็จรูป 180 กรัม"]),
    B("Moccona", "Instant Coffee", "มอคโคน่า", "MOCCONA",
      ["Select|ซีเลคท์", "Royal Gold|รอยัลโกลด์", "Espresso|เอสเปรสโซ", "Trio Rich & Creamy|ทรีโอ ริชแอนด์ครีมมี่"],
      ["100g", "200g", "27sachets", "400g"], n=5, nobrand=["Royal Gold Freeze Dried Coffee 100g"]),
    B("Khao Shong", "Instant Coffee", "เขาช่อง", "KHAO SHONG",
      ["Coffee Mix 3in1|คอฟฟี่มิกซ์ 3อิน1", "Espresso|เอสเปรสโซ", "Agglomerated|ชนิดเกล็ด",
       "Zero Sugar|สูตรไม่มีน้ำตาล"],
      ["100g", "200g", "25sachets", "400g"], n=5),
    B("Foremost", "UHT Milk", "โฟร์โมสต์", "FOREMOST",
      ["Plain|รสจืด", "Chocolate|รสช็อกโกแลต", "Strawberry|รสสตรอเบอร์รี่", "Omega 369 Gold|โอเมก้า 369 โกลด์",
       "Low Fat|ไขมันต่ำ"],
      ["180ml", "225ml", "4x180ml", "1L", "12x180ml"], n=9,
      nobrand=["Omega 369 Gold นมยูเอชที รสจืด 180 มล. แพ็ค 4"]),
    B("Thai-Denmark", "UHT Milk", "ไทย-เดนมาร์ค;วัวแดง", "Thai Denmark",
      ["Plain|รสจืด", "Chocolate|รสช็อกโกแลต", "Sweetened|รสหวาน", "Strawberry|รสสตรอเบอร์รี่"],
      ["200ml", "250ml", "4x200ml", "1L"], n=6),
    B("Dutch Mill", "Yogurt Drink", "ดัชมิลล์", "DUTCH MILL;Dutchmill",
      ["Mixed Fruit|รสผลไม้รวม", "Strawberry|รสสตรอเบอร์รี่", "Orange|รสส้ม", "Blueberry|รสบลูเบอร์รี่",
       "Selected Plain|ซีเล็คเต็ด รสธรรมชาติ"],
      ["180ml", "90ml", "4x180ml", "400ml"], n=8, nobrand=["Dutchie Drinking Yoghurt Strawberry 180ml x4"]),
    B("Betagen", "Yogurt Drink", "บีทาเก้น", "BETAGEN",
      ["Original|รสดั้งเดิม", "Light|สูตรไลท์", "Orange|รสส้ม", "Low Fat Low Sugar|ไขมันต่ำ น้ำตาลน้อย"],
      ["400ml", "140ml", "4x140ml", "85ml"], n=5),
    B("Yakult", "Yogurt Drink", "ยาคูลท์", "YAKULT",
      ["Original|ออริจินัล", "Light|ไลท์", "Ace Light|เอซ ไลท์"],
      ["80ml", "5x80ml", "10x80ml"], n=5),
    # --- snacks ------------------------------------------------------------
    B("Lay's", "Potato Chips", "เลย์", "Lays;LAY'S",
      ["Classic|รสคลาสสิก", "Nori Seaweed|รสโนริสาหร่าย", "Sour Cream & Onion|รสซาวครีมและหัวหอม",
       "Hot Chili Squid|รสหมึกย่างฮอตชิลลี่", "Rock Ridged Salt|ร็อค รสเกลือ", "Max Barbecue|แมกซ์ รสบาร์บีคิว"],
      ["75g", "50g", "158g", "25g", "6x13g"], n=10,
      nobrand=["Stax Original Potato Crisps 155g"]),
    B("Pringles", "Potato Chips", "พริงเกิลส์", "PRINGLES",
      ["Original|ออริจินัล", "Sour Cream & Onion|ซาวครีมแอนด์ออเนียน", "Cheesy Cheese|ชีสซี่ชีส",
       "Hot & Spicy|ฮอตแอนด์สไปซี่", "BBQ|รสบาร์บีคิว"],
      ["107g", "42g", "134g", "2x107g"], n=6),
    B("Tasto", "Potato Chips", "เทสโต", "TASTO",
      ["Original|รสดั้งเดิม", "Spicy Basil|รสกะเพรา", "Seaweed|รสสาหร่าย", "BBQ|รสบาร์บีคิว"],
      ["50g", "75g", "25g"], n=5),
    B("Tao Kae Noi", "Seaweed Snack", "เถ้าแก่น้อย", "TAO KAE NOI;Taokaenoi",
      ["Big Roll Classic|บิ๊กโรล รสคลาสสิก", "Big Roll Spicy|บิ๊กโรล รสเผ็ด", "Tempura Original|เทมปุระ รสดั้งเดิม",
       "Grilled Tom Yum|ย่าง รสต้มยำกุ้ง", "Hot & Spicy|รสเผ็ด", "Classic|รสคลาสสิก"],
      ["32g", "36g", "40g", "12x3.6g"], n=10,
      nobrand=["Big Roll Grilled Seaweed Roll Classic 3g x12", "สาหร่ายบิ๊กโรล รสเผ็ด 3.6 กรัม แพ็ค 6"]),
    B("Masita", "Seaweed Snack", "มาชิตะ", "MASITA",
      ["Original|รสดั้งเดิม", "Spicy|รสเผ็ด", "Wasabi|รสวาซาบิ", "Korean BBQ|รสบาร์บีคิวเกาหลี"],
      ["18g", "30g", "4g", "4x18g"], n=5),
    B("Oreo", "Biscuits", "โอรีโอ", "OREO",
      ["Original Vanilla Cream|ครีมวานิลลา", "Chocolate Cream|ช็อกโกแลตครีม", "Strawberry Cream|สตรอเบอร์รี่ครีม",
       "Thins Tiramisu|ธินส์ ทีรามิสุ", "Double Stuf|ดับเบิ้ลสตัฟ"],
      ["133g", "28.5g", "12x27.6g", "264g"], n=7),
    B("Glico", "Biscuits", "กูลิโกะ", "GLICO",
      ["Pocky Chocolate|ป๊อกกี้ รสช็อกโกแลต", "Pocky Strawberry|ป๊อกกี้ รสสตรอเบอร์รี่", "Pretz Larb|เพรทซ์ รสลาบ",
       "Collon Cream|โคลลอน ครีม", "Pejoy Chocolate|เพจอย ช็อกโกแลต"],
      ["47g", "33g", "5x43g"], n=8,
      nobrand=["Pocky Strawberry 45g", "ป๊อกกี้ รสช็อกโกแลต 47 กรัม", "Pretz Tom Yum Kung 31g", "Pejoy Cookies & Cream 37g"]),
    B("Fun-O", "Biscuits", "ฟันโอ", "FUN-O;Fun O",
      ["Vanilla Cream|ครีมวานิลลา", "Chocolate|ช็อกโกแลต", "Strawberry|สตรอเบอร์รี่"],
      ["90g", "40g", "12x40g"], n=5),
    B("KitKat", "Chocolate", "คิทแคท", "Kit Kat;KITKAT",
      ["4 Finger Milk Chocolate|4 ฟิงเกอร์ ช็อกโกแลตนม", "Chunky|ชังกี้", "Dark|ดาร์ก",
       "Matcha Green Tea|ชาเขียวมัทฉะ", "Mini Share Bag|มินิ แชร์แบ็ก"],
      ["35g", "38g", "12x17g", "136g"], n=7),
    B("Snickers", "Chocolate", "สนิกเกอร์ส", "SNICKERS",
      ["Original|ออริจินัล", "Peanut Butter|พีนัทบัตเตอร์", "Almond|อัลมอนด์", "Fun Size|ฟันไซส์"],
      ["51g", "35g", "6x51g", "180g"], n=5),
    B("Cadbury", "Chocolate", "แคดเบอรี", "CADBURY",
      ["Dairy Milk|แดรี่มิลค์", "Dairy Milk Hazelnut|แดรี่มิลค์ เฮเซลนัท",
       "Dairy Milk Fruit & Nut|แดรี่มิลค์ ฟรุตแอนด์นัท", "Dairy Milk Roast Almond|แดรี่มิลค์ อัลมอนด์อบ"],
      ["160g", "65g", "30g", "2x160g"], n=6,
      nobrand=["Dairy Milk Chocolate Bar 160g"]),
    # --- pantry ------------------------------------------------------------
    B("Tiparos", "Fish Sauce", "ทิพรส;ตราทิพรส", "TIPAROS",
      ["Original|สูตรดั้งเดิม", "Less Sodium|สูตรลดโซเดียม", "Premium|พรีเมียม"],
      ["700ml", "300ml", "1.5L", "4.5L"], n=5),
    B("Squid Brand", "Fish Sauce", "ตราปลาหมึก", "SQUID BRAND",
      ["Premium|พรีเมียม", "Original|สูตรดั้งเดิม", "Low Sodium|สูตรโซเดียมต่ำ"],
      ["300ml", "700ml", "60ml", "3x700ml"], n=5),
    B("Megachef", "Fish Sauce", "เมก้าเชฟ", "MEGACHEF",
      ["Premium Anchovy|พรีเมียม ปลากะตัก", "Original|สูตรดั้งเดิม"],
      ["200ml", "500ml", "700ml"], n=4),
    B("Healthy Boy", "Soy Sauce", "เด็กสมบูรณ์;ตราเด็กสมบูรณ์", "HEALTHY BOY",
      ["Formula 1|สูตร 1|0", "Mushroom|สูตรเห็ดหอม|0", "Premium|พรีเมียม|1", "Less Sodium|สูตรลดโซเดียม|0"],
      ["700ml", "300ml", "940ml"], n=6),
    B("Golden Mountain", "Soy Sauce", "ภูเขาทอง;ตราภูเขาทอง", "GOLDEN MOUNTAIN",
      ["Green Cap|ฝาเขียว|2", "Less Sodium|สูตรลดโซเดียม|2", "Light|สูตรอ่อน|0"],
      ["600ml", "200ml", "1L"], n=5),
    B("Morakot", "Cooking Oil", "มรกต", "MORAKOT",
      ["||0", "||1", "Rice Bran|รำข้าว|2"],
      ["1L", "2L", "5L", "3x1L"], n=5),
    B("Naturel", "Cooking Oil", "เนเชอเรล", "NATUREL",
      ["Canola|คาโนล่า|2", "Rice Bran|รำข้าว|2", "Sunflower|ดอกทานตะวัน|2", "Olive|มะกอก|2"],
      ["1L", "500ml", "2L"], n=5),
    B("Oleen", "Cooking Oil", "โอลีน", "OLEEN",
      ["||0", "Plus|พลัส|0", "||1"],
      ["1L", "2L", "5L"], n=4),
    B("Royal Umbrella", "Rice", "ตราฉัตร;ฉัตร", "ROYAL UMBRELLA",
      ["Premium|พรีเมียม|0", "New Crop|ข้าวใหม่|0", "Riceberry|ไรซ์เบอร์รี่|1", "||2"],
      ["5kg", "1kg", "15kg", "2kg"], n=6),
    B("Mah Boonkrong", "Rice", "มาบุญครอง", "MAH BOONKRONG",
      ["Premium|พรีเมียม|0", "Sao Hai|เสาไห้|1", "Riceberry|ไรซ์เบอร์รี่|1", "Red Hom Mali|หอมมะลิแดง|2"],
      ["5kg", "1kg", "2kg"], n=5),
    B("Sealect", "Canned Tuna", "ซีเล็ค", "SEALECT",
      ["In Spring Water|ในน้ำแร่", "In Soybean Oil|ในน้ำมันถั่วเหลือง", "Sandwich Flakes|แซนด์วิช",
       "Chili|ผัดพริก", "Fitt Tuna Steak|ฟิตต์ ทูน่าสเต็ก"],
      ["185g", "165g", "3x185g", "80g"], n=8,
      nobrand=["Fitt Tuna Steak in Spring Water 150g"]),
    B("Nautilus", "Canned Tuna", "นอติลุส", "NAUTILUS",
      ["Chunk in Spring Water|ชิ้นในน้ำแร่", "Light in Brine|ในน้ำเกลือ", "Flakes in Oil|ชนิดเกล็ดในน้ำมัน",
       "Lite|ไลท์"],
      ["165g", "185g", "4x165g"], n=5),
    # --- electronics -------------------------------------------------------
    B("Apple", "Smartphone", "แอปเปิ้ล", "APPLE",
      ["iPhone 15|ไอโฟน 15", "iPhone 15 Plus|ไอโฟน 15 พลัส", "iPhone 15 Pro|ไอโฟน 15 โปร",
       "iPhone 16|ไอโฟน 16", "iPhone 16 Pro Max|ไอโฟน 16 โปรแม็กซ์", "iPhone 14|ไอโฟน 14",
       "iPhone 13|ไอโฟน 13"],
      ["128GB Black|128GB สีดำ", "256GB Blue|256GB สีฟ้า", "512GB Natural Titanium|512GB สีไทเทเนียมธรรมชาติ",
       "128GB Pink|128GB สีชมพู", "256GB|256GB"], n=12,
      nobrand=["iPhone 15 Plus 128GB Black", "iPhone 16 Pro 256GB Desert Titanium", "iPhone 13 128GB Midnight",
               "iPhone 14 Plus 256GB Purple", "iPhone 15 Pro 512GB White Titanium"], also="ไอโฟน"),
    B("Apple", "Headphones", "แอปเปิ้ล", "APPLE",
      ["AirPods Pro 2|แอร์พอดส์ โปร 2|1", "AirPods 4|แอร์พอดส์ 4|1", "AirPods Max|แอร์พอดส์ แม็กซ์|0",
       "EarPods USB-C|เอียร์พอดส์ USB-C|1"],
      ["USB-C|USB-C", "White|สีขาว", "Midnight|สีมิดไนท์", "Starlight|สีสตาร์ไลท์"],
      n=6, nobrand=["AirPods Pro 2 USB-C", "หูฟัง AirPods 4 ตัดเสียงรบกวน"]),
    B("Samsung", "Smartphone", "ซัมซุง", "SAMSUNG",
      ["Galaxy S24 Ultra|กาแลคซี่ S24 Ultra", "Galaxy A55 5G|กาแลคซี่ A55 5G", "Galaxy A15|กาแลคซี่ A15",
       "Galaxy Z Flip6|กาแลคซี่ Z Flip6", "Galaxy S24 FE|กาแลคซี่ S24 FE", "Galaxy A35 5G|กาแลคซี่ A35 5G"],
      ["8/128GB Awesome Navy|8/128GB สีกรมท่า", "12/256GB Titanium Gray|12/256GB สีเทาไทเทเนียม",
       "8/256GB Lilac|8/256GB สีม่วง", "12/512GB|12/512GB"], n=12,
      extra=["Samsung Galaxy A55 5G Smartphone 8/256GB Awesome Lilac"],
      nobrand=["Galaxy S24 Ultra 512GB Titanium Black", "Galaxy A55 5G 8/128GB Awesome Iceblue",
               "กาแลคซี่ A15 8/256GB สีดำ", "Galaxy Z Fold6 12/512GB Silver Shadow"]),
    B("Oppo", "Smartphone", "ออปโป้", "OPPO",
      ["Reno12 5G|Reno12 5G", "Reno12 F|Reno12 F", "A3x|A3x", "Find X8|Find X8", "A79 5G|A79 5G"],
      SIZES_PHONE, n=7, nobrand=["Reno12 F 5G 8/256GB Olive Green", "Find X8 Pro 16/512GB Space Black"]),
    B("Xiaomi", "Smartphone", "เสียวหมี่", "XIAOMI",
      ["Redmi Note 13 Pro|Redmi Note 13 Pro", "Redmi 13C|Redmi 13C", "14T Pro|14T Pro",
       "Poco X6 Pro 5G|Poco X6 Pro 5G"],
      SIZES_PHONE, n=7,
      nobrand=["Redmi Note 13 Pro 5G 12/512GB Aurora Purple", "Poco F6 12/256GB Black"]),
    B("vivo", "Smartphone", "วีโว่", "VIVO;Vivo",
      ["V30 5G|V30 5G", "Y18|Y18", "Y28|Y28", "X100 Pro|X100 Pro"],
      SIZES_PHONE, n=6, nobrand=["V30 5G 12/256GB Peacock Green", "Y28 8/256GB Gleaming Orange"]),
    B("Sony", "Headphones", "โซนี่", "SONY",
      ["WH-1000XM5|WH-1000XM5|0", "WF-1000XM5|WF-1000XM5|1", "WH-CH520|WH-CH520|0",
       "WF-C700N|WF-C700N|1", "ULT Wear|ULT Wear|0"],
      SIZES_EARPHONE, n=8, extra=["Sony WH-CH520 Wireless Headphones Blue"], nobrand=["WH-1000XM5 Wireless Noise Cancelling Headphones Black", "WF-1000XM5 หูฟังไร้สาย สีดำ"]),
    B("JBL", "Headphones", "", "",
      ["Tune 520BT|Tune 520BT|0", "Tune Flex|Tune Flex|1", "Live Pro 2|Live Pro 2|1", "Wave Beam|Wave Beam|1",
       "Tune 770NC|Tune 770NC|0"],
      SIZES_EARPHONE, n=7, nobrand=["Tune 520BT Wireless On-Ear Headphones Black"]),
    B("Asus", "Laptop", "เอซุส;อัสซุส", "ASUS",
      ["Vivobook 15 X1504VA|Vivobook 15 X1504VA", "Zenbook 14 OLED UX3405MA|Zenbook 14 OLED UX3405MA",
       "ROG Strix G16|ROG Strix G16", "TUF Gaming A15|TUF Gaming A15"],
      SIZES_LAPTOP, n=7, nobrand=["Vivobook Go 14 E1404FA Ryzen 5 8GB 512GB SSD", "ROG Strix G16 i9 RTX 4070 32GB 1TB"]),
    B("Lenovo", "Laptop", "เลอโนโว", "LENOVO",
      ["IdeaPad Slim 3 15IRH8|IdeaPad Slim 3 15IRH8", "ThinkPad E14 Gen 5|ThinkPad E14 Gen 5",
       "Legion 5 16IRX9|Legion 5 16IRX9", "Yoga Slim 7i|Yoga Slim 7i"],
      SIZES_LAPTOP, n=7,
      nobrand=["ThinkPad X1 Carbon Gen 12 Core Ultra 7 32GB 1TB", "โน้ตบุ๊ก IdeaPad Slim 5 Ryzen 7 16GB 512GB", "Legion Pro 5 i9-14900HX RTX 4070 32GB 1TB"]),
    # --- personal care -----------------------------------------------------
    B("Nivea", "Skin Care", "นีเวีย", "NIVEA",
      ["Extra Bright C&HYA Vitamin|เอ็กซ์ตร้า ไบรท์ ซี แอนด์ ไฮยา วิตามิน|1|400ml,320ml,2x400ml",
       "Luminous 630 Anti Dark Spot|ลูมินัส 630 แอนตี้ ดาร์กสปอต|2|30ml,10ml",
       "Men Acne Oil Clear|เมน แอคเน่ ออยล์ เคลียร์|0|100g,50g",
       "Soft|ซอฟท์|3|100ml,50ml,200ml"],
      [], n=8, nobrand=["Luminous 630 Anti Dark Spot Serum 30ml"]),
    B("Nivea", "Deodorant", "นีเวีย", "NIVEA",
      ["Extra Whitening|เอ็กซ์ตร้า ไวท์เทนนิ่ง|0", "Men Deep Black Carbon|เมน ดีพ แบล็ค คาร์บอน|1",
       "Pearl & Beauty|เพิร์ล แอนด์ บิวตี้|0", "Dry Comfort|ดราย คอมฟอร์ท|1"],
      ["50ml", "25ml", "150ml", "2x50ml"], n=6),
    B("Pond's", "Skin Care", "พอนด์ส", "Ponds;POND'S",
      ["Bright Beauty|ไบรท์ บิวตี้|0|100g,50g", "Age Miracle|เอจ มิราเคิล|3|50g,45g",
       "Clear Solutions|เคลียร์ โซลูชั่น|0|100g,50g", "Bright Miracle Niasorcinol|ไบรท์ มิราเคิล ไนอาซอซินอล|2|30g,15g",
       "Pure White|เพียวไวท์|0|100g,2x100g"],
      [], n=7, nobrand=["Age Miracle Day Cream SPF18 50g"]),
    B("Garnier", "Skin Care", "การ์นิเย่", "GARNIER",
      ["Pink|สีชมพู|4|400ml,125ml", "Bright Complete Vitamin C|ไบรท์ คอมพลีท วิตามินซี|2|30ml,15ml",
       "Sakura Glow|ซากุระ โกลว์|3|50ml,18ml", "Men Acno Fight|เมน แอคโน ไฟท์|0|100ml,50ml"],
      [], n=6, nobrand=["Micellar Cleansing Water Pink 400ml"]),
    B("Smooth E", "Skin Care", "สมูทอี", "Smooth-E;SMOOTH E",
      ["Babyface|เบบี้เฟซ|0|4oz,2oz", "Gold|โกลด์|3|30g,12g", "White Babyface|ไวท์ เบบี้เฟซ|0|4oz,2oz",
       "Acne Hydrogel|แอคเน่ ไฮโดรเจล|3|10g,7g"],
      [], n=5, nobrand=["Babyface Foam 4 oz"]),
    B("Biore", "Sunscreen", "บิโอเร", "BIORE;Bioré",
      ["UV Aqua Rich Watery Essence|ยูวี อะควา ริช วอเตอรี่ เอสเซนส์|0",
       "UV Anti-Pollution Body Care|ยูวี แอนตี้ โพลูชั่น บอดี้ แคร์|1",
       "UV Perfect Protect Milk|ยูวี เพอร์เฟค โพรเทค มิลค์|0", "UV Aqua Rich|ยูวี อะควา ริช|2"],
      ["50g", "70ml", "90ml", "150ml"], n=7,
      nobrand=["UV Aqua Rich Watery Essence SPF50+ PA++++ 50g"]),
    B("Sunplay", "Sunscreen", "ซันเพลย์", "SUNPLAY",
      ["Skin Aqua|สกิน อควา|0", "Super Block|ซูเปอร์ บล็อก|0", "Skin Aqua Tone Up|สกิน อควา โทนอัพ|0",
       "Sport|สปอร์ต|2"],
      ["30g", "70g", "150ml"], n=5),
    B("Rexona", "Deodorant", "เรโซนา", "REXONA",
      ["Men Ice Cool|เมน ไอซ์คูล|0", "Shower Clean|ชาวเวอร์คลีน|0", "Advanced Whitening|แอดวานซ์ ไวท์เทนนิ่ง|1",
       "Men Quantum Dry|เมน ควอนตั้ม ดราย|1"],
      ["45ml", "50ml", "135ml", "2x45ml"], n=6),
    B("Taoyeablok", "Deodorant", "เต่าเหยียบโลก", "Tao Yeab Lok",
      ["Original|สูตรต้นตำรับ|2|22g,50g,5g", "Extra Cool|สูตรเย็น|2|22g,50g", "Odor Control|ระงับกลิ่น|0|30ml,2x30ml"],
      [], n=5),
    # --- baby & pets -------------------------------------------------------
    B("MamyPoko", "Diapers", "มามี่โพโค", "Mamy Poko;MAMYPOKO",
      ["Premium Extra Dry|พรีเมี่ยม เอ็กซ์ตร้า ดราย|1", "Happy Day & Night|แฮปปี้ เดย์แอนด์ไนท์|1",
       "Standard Tape|แบบเทป|0", "Air Fit|แอร์ฟิต|1"],
      SIZES_DIAPER, n=7, nobrand=["Happy Pants Day & Night XL 46 ชิ้น"]),
    B("Pampers", "Diapers", "แพมเพิร์ส", "PAMPERS",
      ["Baby Dry|เบบี้ดราย|1", "Premium Care|พรีเมียมแคร์|0", "Harmonie|ฮาร์โมนี่|1"],
      SIZES_DIAPER, n=6, nobrand=["Baby Dry Pants ไซส์ L 54 ชิ้น"]),
    B("BabyLove", "Diapers", "เบบี้เลิฟ", "Baby Love;BABYLOVE",
      ["Day Night Pants|เดย์ไนท์ แพ้นท์|1", "Playpants Premium|เพลย์แพ้นท์ พรีเมียม|1", "Easy Tape|อีซี่เทป|0",
       "Day Night Comfort|เดย์ไนท์ คอมฟอร์ท|1"],
      SIZES_DIAPER, n=6),
    B("S-26", "Baby Formula", "เอส-26", "S26",
      ["Progress Gold Formula 3|โปรเกรส โกลด์ สูตร 3", "Promil Gold Formula 2|โปรมิล โกลด์ สูตร 2",
       "SMA Gold Formula 1|เอสเอ็มเอ โกลด์ สูตร 1"],
      ["550g", "1650g", "2750g"], n=6,
      nobrand=["Promil Gold สูตร 2 นมผง 550 กรัม", "โปรเกรส โกลด์ สูตร 3 นมผง 1650 กรัม"]),
    B("Dumex", "Baby Formula", "ดูเม็กซ์", "DUMEX",
      ["Dugro Formula 3|ดูโกร สูตร 3", "Dugro Formula 4|ดูโกร สูตร 4", "Dupro Formula 1|ดูโปร สูตร 1",
       "Hi-Q 1 Plus Super Gold|ไฮคิว 1 พลัส ซูเปอร์โกลด์"],
      ["550g", "1100g", "2750g"], n=6, nobrand=["Dugro EZCARE นมผง สูตร 3 1650 กรัม"]),
    B("Whiskas", "Pet Food", "วิสกัส", "WHISKAS",
      ["Adult Tuna|แมวโต รสปลาทูน่า|0", "Kitten Mackerel|ลูกแมว รสปลาทู|0", "Pouch Ocean Fish|เพาช์ ปลาทะเล|0",
       "Adult Mackerel|แมวโต รสปลาทู|0"],
      ["1.2kg", "480g", "3kg", "12x80g", "85g"], n=7),
    B("Pedigree", "Pet Food", "เพดดิกรี", "PEDIGREE",
      ["Adult Beef & Vegetables|สุนัขโต รสเนื้อวัวและผัก|1", "Puppy Chicken & Egg|ลูกสุนัข รสไก่และไข่|1",
       "Small Breed Beef|พันธุ์เล็ก รสเนื้อวัว|1", "Pouch Chicken Chunks|เพาช์ ไก่ชิ้นในน้ำเกรวี่|1"],
      ["1.5kg", "3kg", "480g", "10kg", "130g"], n=6, nobrand=["DentaStix ขนมขัดฟันสุนัข พันธุ์ใหญ่ 7 ชิ้น"]),
    B("Me-O", "Pet Food", "มีโอ", "MeO;ME-O",
      ["Adult Seafood|แมวโต รสซีฟู้ด|0", "Kitten|ลูกแมว|0", "Gold Persian|โกลด์ เปอร์เซีย|0",
       "Creamy Treats Tuna|ครีมมี่ทรีต รสทูน่า|0", "Pouch Tuna in Jelly|เพาช์ ทูน่าในเยลลี่|0"],
      ["1.2kg", "400g", "7kg", "4x15g"], n=7, nobrand=["Creamy Treats Tuna 15g x4"]),
    # --- frozen, cereal, tea, juice, tissue, functional ----------------------
    B("CP", "Frozen Food", "ซีพี", "",
      ["Basil Chicken with Rice|ข้าวกะเพราไก่|1", "Green Curry Chicken with Rice|ข้าวแกงเขียวหวานไก่|1",
       "Shrimp Wonton|เกี๊ยวกุ้ง|0", "Chicken Nuggets|ไก่นักเก็ต|0", "Gyoza Pork|เกี๊ยวซ่าหมู|0",
       "Spicy Basil Pork Rice|ข้าวผัดกะเพราหมู|1"],
      ["200g", "235g", "500g", "1kg", "12pcs"], n=10, nobrand=["คิทเช่นจอย ข้าวกะเพราไก่ 215 กรัม"]),
    B("S&P", "Frozen Food", "เอส แอนด์ พี", "S & P",
      ["Spaghetti Carbonara|สปาเก็ตตี้คาโบนาร่า|1", "Crab Fried Rice|ข้าวผัดปู|1", "Pad Thai Shrimp|ผัดไทยกุ้ง|1",
       "Pork Siu Mai|ขนมจีบหมู|0"],
      ["220g", "250g", "10pcs"], n=5),
    B("Kellogg's", "Breakfast Cereal", "เคลล็อกส์", "Kelloggs;KELLOGG'S",
      ["Corn Flakes|คอร์นเฟลกส์", "Froot Loops|ฟรุตลูปส์", "Coco Pops|โกโก้ป๊อปส์",
       "Special K Original|สเปเชียล เค ออริจินัล", "Frosties|ฟรอสตีส์"],
      ["275g", "300g", "170g", "2x275g"], n=8,
      nobrand=["Froot Loops Cereal 285g", "Special K Original 209g"]),
    B("Oishi", "Ready-to-Drink Tea", "โออิชิ", "OISHI",
      ["Honey Lemon|น้ำผึ้งผสมมะนาว|0", "Genmai|ข้าวญี่ปุ่น|0", "Original No Sugar|ต้นตำรับ ไม่มีน้ำตาล|0",
       "Gold Sencha|โกลด์ เซนฉะ|0", "Chakulza Lemon|ชาคูลซ่า เลมอน|1"],
      ["380ml", "500ml", "800ml", "6x380ml"], n=8, nobrand=["Chakulza Lemon Tea 450ml", "Gold Sencha Green Tea 450ml"]),
    B("Ichitan", "Ready-to-Drink Tea", "อิชิตัน", "ICHITAN",
      ["Honey Lemon|น้ำผึ้งมะนาว|0", "Genmai|ข้าวญี่ปุ่น|0", "No Sugar|ไม่มีน้ำตาล|0",
       "Lemon Black Tea|ชาดำเลมอน|1", "Thai Milk Tea|ชาไทย|1"],
      ["420ml", "600ml", "6x420ml"], n=6),
    B("Malee", "Fruit Juice", "มาลี", "MALEE",
      ["Apple|แอปเปิ้ล|1", "Orange|ส้ม|1", "Mixed Fruit|ผลไม้รวม|0", "Pomegranate|ทับทิม|1", "Tomato|มะเขือเทศ|1"],
      ["1L", "200ml", "3x200ml", "180ml"], n=7),
    B("Tipco", "Fruit Juice", "ทิปโก้", "TIPCO",
      ["Sun Orange|ส้มสายน้ำผึ้ง|1", "Pineapple|สับปะรด|1", "Mixed Vegetable & Fruit|ผักผลไม้รวม|0",
       "Shine Muscat|องุ่นไชน์มัสแคท|1"],
      ["1L", "200ml", "3x200ml"], n=6),
    B("Scott", "Tissue Paper", "สก๊อตต์", "SCOTT",
      ["Extra|เอ็กซ์ตร้า|0", "Clean Care|คลีนแคร์|0", "Select|ซีเลคท์|0", "Pick-a-Size|พิค อะ ไซส์|2|2rolls,6rolls"],
      ["24rolls", "6rolls", "32rolls"], n=6, nobrand=["Pick-a-Size Kitchen Towel 6 rolls"]),
    B("Cellox", "Tissue Paper", "เซลล็อกซ์", "CELLOX",
      ["Purify|พิวริฟาย|0", "Purify Super Extra|พิวริฟาย ซูเปอร์เอ็กซ์ตร้า|0",
       "Soft Pack|ซอฟท์แพ็ค|1|4x150sheets,130sheets", "Jumbo Roll|จัมโบ้โรล|0"],
      ["24rolls", "6rolls", "12rolls"], n=5),
    B("Yanhee", "Functional Drink", "ยันฮี", "YANHEE",
      ["Lemon|เลมอน|0", "Peach|พีช|0", "Berry|เบอร์รี่|0", "Collagen Plus Vitamin C|คอลลาเจนพลัส วิตามินซี|1"],
      ["460ml", "6x460ml", "150ml"], n=5),
    B("Sappe", "Functional Drink", "เซปเป้", "SAPPE",
      ["Beauti Drink Collagen|บิวติ ดริ้งค์ คอลลาเจน|1", "Beauti Drink Fibery|บิวติ ดริ้งค์ ไฟเบอร์รี่|1",
       "Beauti Drink Glowy|บิวติ ดริ้งค์ โกลว์วี่|1"],
      ["100ml", "6x100ml", "3x100ml"], n=4, nobrand=["Beauti Drink Collagen 100ml x6"]),
    # --- private labels (supermarket house brands) --------------------------
    B("Tops", "Drinking Water", "ท็อปส์", "TOPS",
      ["|"], SIZES_WATER, n=4),
    B("Tops", "Rice", "ท็อปส์", "TOPS",
      ["Thai Hom Mali 100%|100%|0", "Sao Hai|เสาไห้|1"], ["5kg", "1kg", "2kg"], n=4),
    B("My Choice", "Tissue Paper", "มายช้อยส์", "MY CHOICE",
      ["Soft|ซอฟท์|0", "Extra Long|ยาวพิเศษ|0", "Soft Box|ซอฟท์ บ็อกซ์|1|150sheets,4x150sheets"],
      ["24rolls", "6rolls", "12rolls"], n=4),
    B("My Choice", "Dishwashing Liquid", "มายช้อยส์", "MY CHOICE",
      ["Lemon|กลิ่นเลมอน", "Lime|กลิ่นมะนาว"], ["500ml", "3.5L", "800ml"], n=4),
    B("Big C", "Drinking Water", "บิ๊กซี", "BIG C",
      ["|"], SIZES_WATER, n=4),
    B("Big C", "Potato Chips", "บิ๊กซี", "BIG C",
      ["Original|รสดั้งเดิม", "Seaweed|รสสาหร่าย", "Chili|รสพริก"], ["50g", "150g", "3x50g"], n=4),
]

# ---------------------------------------------------------------------------
# 3. Name templates.  {B}=brand (Latin), {BT}=brand (Thai), {K}/{KT}=category
#    keyword, {L}/{LT}=product line, {S}/{ST}=size or variant, {P}/{PT}=promo,
#    {N}=pack count.  Adjacent Thai words are often written run together.
# ---------------------------------------------------------------------------
TEMPLATES = {
    "goods": {
        "thai": ["{KT}{BT} {LT} {ST}", "{KT}{BT} {LT} {ST}", "{KT} {BT} {LT} {ST}",
                 "{BT} {KT}{LT} {ST}", "{KT}{BT} {LT} {ST} {PT}", "{PT} {KT}{BT} {LT} {ST}",
                 "{BT} {LT} {ST}", "{KT}{BT} {LT} ขนาด {ST}", "{KT}{BT} {LT} {ST} แพ็ค {N}"],
        "english": ["{B} {L} {K} {S}", "{B} {L} {K} {S}", "{B} {K} {L} {S}", "{B} {L} {S}",
                    "{B} {L} {K} {S} {P}", "{B} {L} {S} x{N}", "{K} {B} {L} {S}",
                    "{B} {L} {K}, {S}", "{B} {L} {S} ({P})", "{B} {L} {K} {S} Pack {N}"],
        "mixed": ["{KT} {B} {L} {S}", "{KT} {B} {LT} {ST}", "{B} {KT}{LT} {ST}", "{KT}{BT} {L} {S}",
                  "{B} {L} {S} {PT}", "{PT} {KT} {B} {L} {S}", "{B} {L} {K} {ST}",
                  "{KT} {B} {LT} {ST} แพ็ค {N}", "{KT}{BT} {LT} {S}", "{B} {LT} {ST}"],
    },
    "tech": {
        "thai": ["{KT}{BT} {LT} {ST}", "{KT} {BT} {LT} {ST}"],
        "english": ["{B} {L} {S}", "{B} {L} {S}", "{B} {L} {K} {S}", "{B} {L} ({S})", "{B} {L} {S} {P}"],
        "mixed": ["{KT} {B} {L} {S}", "{B} {L} {ST}", "{KT}{BT} {L} {S}", "{BT} {L} {ST}",
                  "{KT} {B} {L} {ST} {PT}", "{B} {L} {S} {PT}", "{KT} {B} {L} ({ST})"],
    },
}
SCRIPT_WEIGHTS = {"goods": {"thai": 0.23, "english": 0.35, "mixed": 0.42},
                  "tech": {"thai": 0.05, "english": 0.55, "mixed": 0.40}}
PACK_COUNTS = [2, 2, 3, 4, 6]

EN_UNITS = {"g": ["{n}g", "{n} g", "{n}G"], "kg": ["{n}kg", "{n} kg", "{n}KG"],
            "ml": ["{n}ml", "{n} ml", "{n}ML", "{n} mL"], "L": ["{n}L", "{n} L", "{n} Litre"],
            "pcs": ["{n} pcs", "{n}pcs"], "sheets": ["{n} sheets", "{n} Sheets"],
            "rolls": ["{n} rolls", "{n} Rolls"], "sachets": ["{n} sachets", "{n} Sachets"],
            "oz": ["{n} oz", "{n}oz"]}
TH_UNITS = {"g": ["{n} กรัม", "{n}ก.", "{n} ก.", "{n}กรัม"], "kg": ["{n} กก.", "{n} กิโลกรัม", "{n}กก."],
            "ml": ["{n} มล.", "{n}มล.", "{n} มิลลิลิตร"], "L": ["{n} ลิตร", "{n}ล.", "{n} ลิตร"],
            "pcs": ["{n} ชิ้น"], "sheets": ["{n} แผ่น"], "rolls": ["{n} ม้วน"], "sachets": ["{n} ซอง"],
            "oz": ["{n} ออนซ์"]}
EN_MULTI = ["{k}x{s}", "{s} x{k}", "{s} x {k}", "{k} x {s}", "{s} Pack {k}"]
TH_MULTI = ["{s} แพ็ค {k}", "แพ็ค {k} {s}", "{s} ({k} ชิ้น)"]
SIZE_RE = re.compile(r"^(?:(\d+)x)?(\d+(?:\.\d+)?)(g|kg|ml|L|pcs|sheets|rolls|sachets|oz)$")

# ---------------------------------------------------------------------------
# 4. Demo names (not in the catalogue). The last one is a brand we do not carry.
# ---------------------------------------------------------------------------
DEMO_NAMES = [
    "ยาสีฟัน Wonder smile 80g",
    "iPhone 15 Pro Max 256GB",
    "แชมพูแพนทีน สูตรผมเสีย 300 มล.",
    "มาม่า รสต้มยำกุ้ง แพ็ค 6",
    "Galaxy A35 5G 8/256GB Awesome Lilac",
    "น้ำยาปรับผ้านุ่มดาวน์นี่ กลิ่นการ์เด้นบลูม 490 มล.",
    "Lay's Rock Sour Cream & Onion 48g",
    "เครื่องดื่มชูกำลัง M-150 150ml แพ็ค 10",
    "สาหร่ายเถ้าแก่น้อย บิ๊กโรล รสต้มยำ 3.6 กรัม",
    "Nescafe Gold Crema Instant Coffee 200g",
    "นมยูเอชที Foremost รสจืด 180 มล. x4",
    "Kleenex Facial Tissue Soft Pack 130 sheets x4",
]


# ---------------------------------------------------------------------------
# 5. Composer
# ---------------------------------------------------------------------------
def script_of(text: str) -> str:
    """'thai', 'english' or 'mixed' by the letters it contains (digits/punctuation ignored)."""
    has_thai = any("\u0e00" <= c <= "\u0e7f" for c in text)
    has_latin = any(c.isalpha() and "LATIN" in unicodedata.name(c, "") for c in text)
    if has_thai and has_latin:
        return "mixed"
    return "thai" if has_thai else "english"


def parse_line(spec: str):
    parts = spec.split("|")
    en = parts[0]
    th = parts[1] if len(parts) > 1 else parts[0]
    k = int(parts[2]) if len(parts) > 2 and parts[2] else None
    sizes = parts[3].split(",") if len(parts) > 3 and parts[3] else None
    return en, th, k, sizes


def render_size(spec: str, rng: random.Random):
    """Return (English text, Thai text, is_multipack)."""
    if "|" in spec:
        en, th = spec.split("|", 1)
        return en, th, False
    m = SIZE_RE.match(spec)
    if not m:
        return spec, spec, False
    count, num, unit = m.groups()
    en = rng.choice(EN_UNITS[unit]).format(n=num)
    th = rng.choice(TH_UNITS[unit]).format(n=num)
    if count:
        en = rng.choice(EN_MULTI).format(k=count, s=en)
        th = rng.choice(TH_MULTI).format(k=count, s=th)
    return en, th, bool(count)


def promos(category: str):
    if category in TECH:
        return PROMOS_TECH
    en, th = list(PROMOS_EN), list(PROMOS_TH)
    key = "liquid" if category in LIQUIDS else category
    if key in PROMOS_BY_CAT:
        en += PROMOS_BY_CAT[key][0]
        th += PROMOS_BY_CAT[key][1]
    return en, th


def compose(brand: Brand, rng: random.Random, force: str | None = None) -> str:
    """Compose one listing name; `force` makes it use that surface form of the brand."""
    group = "tech" if brand.category in TECH else "goods"
    weights = SCRIPT_WEIGHTS[group]
    script = rng.choices(list(weights), weights=list(weights.values()))[0]
    if force is not None:  # a Thai form needs a {BT} template, a Latin one a {B} template
        slot = "{BT}" if script_of(force) == "thai" else "{B}"
        options = ["thai", "mixed"] if slot == "{BT}" else ["english", "mixed"]
        script = rng.choices(options, weights=[0.7, 0.3])[0]
    en_line, th_line, k, line_sizes = parse_line(rng.choice(brand.lines))
    pairs = CATEGORIES[brand.category]
    kw_en, kw_th = pairs[k] if k is not None else rng.choice(pairs)
    s_en, s_th, multi = render_size(rng.choice(line_sizes or brand.sizes), rng)
    templates = TEMPLATES[group][script]
    if force is not None:
        templates = [t for t in templates if slot in t] or templates
    if multi:  # a multipack size already says how many
        templates = [t for t in templates if "{N}" not in t and "ขนาด" not in t]
    p_en, p_th = promos(brand.category)
    latin = rng.choice(brand.alt) if brand.alt and rng.random() < 0.15 else brand.label
    thai = rng.choice(brand.th) if brand.th else brand.label
    if force is not None:
        latin, thai = (force, thai) if slot == "{B}" else (latin, force)
    fields = {
        "B": latin, "BT": thai,
        "K": kw_en, "KT": kw_th, "L": en_line, "LT": th_line, "S": s_en, "ST": s_th,
        "P": rng.choice(p_en), "PT": rng.choice(p_th), "N": rng.choice(PACK_COUNTS),
    }
    if kw_en.lower() in en_line.lower():  # "Milo Cereal", not "Milo Cereal Cereal"
        fields["K"] = ""
    name = rng.choice(templates).format(**fields)
    name = re.sub(r"([\u0e00-\u0e7f])([A-Za-z])", r"\1 \2", name)  # "หูฟัง JBL", not "หูฟังJBL"
    name = re.sub(r"\s+", " ", name).replace(" ,", ",").replace("( ", "(").replace(" )", ")")
    return name.strip()


def surface_forms(brand_label: str) -> list[str]:
    forms = [brand_label]
    for b in BRANDS:
        if b.label == brand_label:
            forms += [f for f in b.th + b.alt + b.also if f not in forms]
    return forms


def contains_form(name: str, forms) -> bool:
    low = name.lower()
    return any(f.lower() in low for f in forms)


def build_catalog(rng: random.Random) -> list[dict]:
    rows, seen = [], {n.lower() for n in DEMO_NAMES}
    for brand in BRANDS:
        names = []
        for fixed in brand.extra + brand.nobrand:
            assert fixed.lower() not in seen, f"duplicate hand-written name: {fixed}"
            seen.add(fixed.lower())
            names.append(fixed)
        # every declared surface form is used at least once, the rest at random
        forced = [f for f in brand.th + brand.alt if f.lower() != brand.label.lower()]
        forced = [f for f in forced if not contains_form(" | ".join(names), [f])]
        attempts = 0
        while len(names) < brand.n:
            attempts += 1
            assert attempts < 2000, f"cannot compose enough names for {brand.label}"
            force = forced[0] if forced else None
            name = compose(brand, rng, force)
            if name.lower() in seen:
                continue
            seen.add(name.lower())
            names.append(name)
            if force is not None:
                forced.pop(0)
        rows += [{"name": n, "brand": brand.label, "category": brand.category} for n in names]
    rng.shuffle(rows)
    return [{"id": f"sample-{i:04d}", **row} for i, row in enumerate(rows, 1)]


def build_aliases(rows: list[dict]) -> dict:
    by_brand, by_cat = defaultdict(list), defaultdict(list)
    for r in rows:
        by_brand[r["brand"]].append(r["name"])
        by_cat[r["category"]].append(r["name"])
    brands = {}
    for label in sorted(by_brand, key=str.lower):
        forms = [f for f in surface_forms(label)[1:]
                 if f.lower() != label.lower() and contains_form(" | ".join(by_brand[label]), [f])]
        brands[label] = forms
    categories = {}
    for cat in sorted(by_cat):
        kws = []
        candidates = [kw for en, th in CATEGORIES[cat] for kw in (en.lower(), th)]
        for kw in candidates + EXTRA_KEYWORDS.get(cat, []):
            if kw not in kws and contains_form(" | ".join(by_cat[cat]), [kw]):
                kws.append(kw)
        categories[cat] = kws
    return {"brands": brands, "categories": categories}


# ---------------------------------------------------------------------------
# 6. Checks: keep the files true to the brief.
# ---------------------------------------------------------------------------
def check(rows: list[dict], aliases: dict, demo: list[dict]) -> dict:
    names = [r["name"] for r in rows]
    assert len(rows) >= 480, len(rows)
    assert len({r["id"] for r in rows}) == len(rows)
    assert len({n.lower() for n in names}) == len(names), "duplicate names"
    per_brand = Counter(r["brand"] for r in rows)
    assert len(per_brand) >= 65, len(per_brand)
    assert min(per_brand.values()) >= 4, per_brand.most_common()[-1]
    cats = {r["category"] for r in rows}
    assert 30 <= len(cats) <= 40 and cats <= set(CATEGORIES), len(cats)

    # every alias / keyword appears verbatim (case-insensitive) in names of its brand / category
    for label, forms in aliases["brands"].items():
        bnames = [r["name"].lower() for r in rows if r["brand"] == label]
        for f in forms:
            assert any(f.lower() in n for n in bnames), (label, f)
    for cat, kws in aliases["categories"].items():
        cnames = [r["name"].lower() for r in rows if r["category"] == cat]
        assert kws, cat
        for kw in kws:
            assert any(kw.lower() in n for n in cnames), (cat, kw)

    # hand-written brand-less names really lack the brand
    for b in BRANDS:
        for n in b.nobrand:
            assert not contains_form(n, surface_forms(b.label)), n
        for n in b.extra:
            assert contains_form(n, surface_forms(b.label)), n

    scripts = Counter(script_of(n) for n in names)
    share = {k: scripts[k] / len(names) for k in ("thai", "english", "mixed")}
    assert 0.24 <= share["thai"] <= 0.31, share
    assert 0.32 <= share["english"] <= 0.39, share
    assert 0.29 <= share["mixed"] <= 0.37, share
    with_brand = sum(contains_form(r["name"], [r["brand"]] + aliases["brands"][r["brand"]]) for r in rows)
    assert 0.89 <= with_brand / len(rows) <= 0.93, with_brand / len(rows)

    # demo names: 12, not in the catalogue, include the two required ones
    low = {n.lower() for n in names}
    assert len(demo) == 12 and all(d["name"].lower() not in low for d in demo)
    assert {"ยาสีฟัน Wonder smile 80g", "iPhone 15 Pro Max 256GB"} <= {d["name"] for d in demo}
    assert any(r["brand"] == "Wonder Smile" and r["category"] == "Toothpaste" for r in rows)
    assert sum("iphone" in n.lower() for n in names) >= 5
    return {"rows": len(rows), "brands": len(per_brand), "categories": len(cats),
            "script_share": {k: round(v, 3) for k, v in share.items()},
            "brand_in_name_share": round(with_brand / len(rows), 3)}


def main() -> None:
    rng = random.Random(SEED)
    rows = build_catalog(rng)
    aliases = build_aliases(rows)
    demo = [{"id": f"demo-{i:02d}", "name": n} for i, n in enumerate(DEMO_NAMES, 1)]
    summary = check(rows, aliases, demo)

    with open(HERE / "catalog.jsonl", "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    with open(HERE / "aliases.json", "w", encoding="utf-8") as f:
        json.dump(aliases, f, ensure_ascii=False, indent=2)
        f.write("\n")
    with open(HERE / "demo_names.jsonl", "w", encoding="utf-8") as f:
        for d in demo:
            f.write(json.dumps(d, ensure_ascii=False) + "\n")
    print(json.dumps(summary, ensure_ascii=False))


if __name__ == "__main__":
    main()
