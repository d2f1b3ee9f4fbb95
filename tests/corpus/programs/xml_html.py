"""Building and parsing XML with ElementTree, and escaping HTML."""
import html
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

catalog = ET.Element("catalog", version="1")
for title, year, price in [("Dune", 1965, "9.99"), ("Neuromancer", 1984, "7.50"), ("Hyperion", 1989, "8.25")]:
    book = ET.SubElement(catalog, "book", year=str(year))
    ET.SubElement(book, "title").text = title
    ET.SubElement(book, "price", currency="USD").text = price
text = ET.tostring(catalog, encoding="unicode")
print(text)
root = ET.fromstring(text)
print([b.findtext("title") for b in root.iter("book") if int(b.get("year")) > 1980])
print(sum(float(p.text) for p in root.findall("./book/price")), root.find("book[@year='1965']/title").text)
doc = ET.fromstring("<a xmlns:x='urn:x'><x:b>1</x:b><c k='v'>two<d/>tail</c></a>")
print([child.tag for child in doc], doc[1].attrib, doc[1].text, doc[1][0].tail)
try:
    ET.fromstring("<a><b></a>")
except ET.ParseError as e:
    print("ParseError:", e)
print(html.escape("<a href='x'>Tom & \"Jerry\"</a>"), html.unescape("&lt;p&gt; &amp; &eacute; &#x2603; &#9731;"))


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links, self.text = [], []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.links.append(dict(attrs).get("href"))

    def handle_data(self, data):
        if data.strip():
            self.text.append(data.strip())


parser = Links()
parser.feed("<html><body><h1>Title</h1><p>See <a href='/one'>one</a> and <A HREF=\"/two\">two</A>.</p></body></html>")
print(parser.links, parser.text)
