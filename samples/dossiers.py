"""The text of the sample dossiers and how each page was "scanned".

The people, numbers and addresses are invented; the forms follow the real papers
(Decree 30/2020/NĐ-CP layout, civil-status forms of Circular 04/2020/TT-BTP,
the dossier control slip of Circular 01/2018/TT-VPCP, the criminal-record
certificate form No. 1).
"""

from __future__ import annotations

from layout import (
    MOTTO,
    Document,
    Gap,
    Page,
    Scan,
    Text,
    field_line,
    issuing_body,
    motto_with_date,
    para,
    recipients,
    signature_block,
    title,
)

PHUOC_LOC_ADDRESS = "xã Phước Lộc, huyện Tuy Phước, tỉnh Bình Định"

MARITAL_STATUS_CERTIFICATE = Page(
    header_left=issuing_body("ỦY BAN NHÂN DÂN", "XÃ PHƯỚC LỘC", number="Số: 125/UBND-XNTTHN"),
    header_right=motto_with_date("Phước Lộc, ngày 23 tháng 11 năm 2026"),
    body=title("GIẤY XÁC NHẬN TÌNH TRẠNG HÔN NHÂN")
    + (
        para("Xét đề nghị của bà Trần Thị Mỹ Hạnh về việc cấp Giấy xác nhận tình trạng hôn nhân cho bà Trần Thị Mỹ Hạnh."),
        Text("ỦY BAN NHÂN DÂN XÃ PHƯỚC LỘC XÁC NHẬN:", "bold", align="center", space_after_pt=6),
        field_line("Họ, chữ đệm, tên: TRẦN THỊ MỸ HẠNH"),
        field_line("Ngày, tháng, năm sinh: 14/03/1996"),
        field_line("Giới tính: Nữ; Dân tộc: Kinh; Quốc tịch: Việt Nam"),
        field_line("Số định danh cá nhân: 052196004817"),
        field_line(f"Nơi cư trú: thôn Tân Điền, {PHUOC_LOC_ADDRESS}"),
        field_line("Trong thời gian cư trú tại: thôn Tân Điền, xã Phước Lộc, từ ngày 14/03/1996 đến nay."),
        field_line("Tình trạng hôn nhân: Chưa đăng ký kết hôn với ai."),
        para(
            "Giấy này có giá trị sử dụng trong thời hạn 06 tháng, kể từ ngày cấp, được cấp để làm "
            "thủ tục đăng ký kết hôn với ông Đỗ Minh Khang, sinh ngày 05/07/1994, tại Ủy ban nhân dân "
            "phường Quy Nhơn, tỉnh Bình Định."
        ),
    ),
    footer_right=signature_block("KT. CHỦ TỊCH", "PHÓ CHỦ TỊCH", signer="Lê Văn Thành"),
    seal="ỦY BAN NHÂN DÂN XÃ PHƯỚC LỘC * H. TUY PHƯỚC * T. BÌNH ĐỊNH *",
)

CONTROL_SLIP = Page(
    header_left=issuing_body("UBND XÃ PHƯỚC LỘC", "BỘ PHẬN MỘT CỬA"),
    header_right=MOTTO,
    body=title("PHIẾU KIỂM SOÁT QUÁ TRÌNH GIẢI QUYẾT HỒ SƠ")
    + (
        field_line("Mã hồ sơ: 000.31.25.H08-261120-0001"),
        field_line("(Liên hệ số điện thoại 0256 3831 247 để hỏi về tiến độ giải quyết hồ sơ)"),
        field_line("Cơ quan giải quyết hồ sơ: Công chức Tư pháp - Hộ tịch, UBND xã Phước Lộc"),
        field_line("Cơ quan phối hợp giải quyết hồ sơ: Không"),
        Gap(2),
        field_line("1. Giao: Bộ phận Một cửa, 08 giờ 15 phút, ngày 20/11/2026, Nguyễn Thị Thu Hà."),
        field_line("Nhận: Công chức Tư pháp - Hộ tịch, Phạm Minh Tuấn. Kết quả: đúng hạn."),
        field_line("2. Giao: Công chức Tư pháp - Hộ tịch, 14 giờ 30 phút, ngày 21/11/2026, Phạm Minh Tuấn."),
        field_line("Nhận: Phó Chủ tịch UBND xã, Lê Văn Thành. Kết quả: đúng hạn."),
        field_line("3. Giao: Phó Chủ tịch UBND xã, 10 giờ 05 phút, ngày 23/11/2026, Lê Văn Thành."),
        field_line("Nhận: Bộ phận Một cửa, Nguyễn Thị Thu Hà. Kết quả: đúng hạn."),
        field_line("4. Trả kết quả cho người nộp hồ sơ: 15 giờ 20 phút, ngày 23/11/2026."),
        Gap(2),
        para("Ghi chú: Hồ sơ và kết quả giải quyết đã được số hóa tại Bộ phận Một cửa xã Phước Lộc."),
    ),
    footer_right=signature_block("NGƯỜI TIẾP NHẬN", signer="Nguyễn Thị Thu Hà"),
)

BIRTH_REGISTRATION_FORM = Page(
    header_right=MOTTO,
    body=title("TỜ KHAI ĐĂNG KÝ KHAI SINH")
    + (
        Text("Kính gửi: Ủy ban nhân dân xã Phước Lộc", align="center", space_after_pt=8),
        field_line("Họ, chữ đệm, tên người yêu cầu: Võ Văn Hùng"),
        field_line("Số định danh cá nhân: 052090011236"),
        field_line(f"Nơi cư trú: thôn Quảng Tín, {PHUOC_LOC_ADDRESS}"),
        field_line("Quan hệ với người được đăng ký khai sinh: Cha"),
        field_line("Đề nghị cơ quan đăng ký khai sinh cho người dưới đây:"),
        field_line("Họ, chữ đệm, tên: VÕ NGỌC BẢO AN"),
        field_line("Ngày, tháng, năm sinh: 02/11/2026, ghi bằng chữ: ngày hai, tháng mười một, năm hai nghìn không trăm hai mươi sáu"),
        field_line("Giới tính: Nữ; Dân tộc: Kinh; Quốc tịch: Việt Nam"),
        field_line("Nơi sinh: Trung tâm Y tế huyện Tuy Phước, tỉnh Bình Định"),
        field_line(f"Quê quán: {PHUOC_LOC_ADDRESS}"),
        field_line("Họ, chữ đệm, tên người mẹ: Nguyễn Thị Kim Oanh; năm sinh: 1993"),
        field_line("Họ, chữ đệm, tên người cha: Võ Văn Hùng; năm sinh: 1990"),
        para(
            "Tôi cam đoan nội dung đề nghị đăng ký khai sinh trên đây là đúng sự thật và chịu trách "
            "nhiệm trước pháp luật về cam đoan của mình."
        ),
    ),
    footer_right=(Text("Làm tại: Phước Lộc, ngày 20 tháng 11 năm 2026", "italic", align="center"),)
    + signature_block("Người yêu cầu", signer="Võ Văn Hùng", note="(Ký, ghi rõ họ, chữ đệm, tên)"),
)

BIRTH_CERTIFICATE = Page(
    header_left=issuing_body("SỞ Y TẾ TỈNH BÌNH ĐỊNH", "TRUNG TÂM Y TẾ TUY PHƯỚC", number="Số: 1284/GCS"),
    header_right=motto_with_date("Tuy Phước, ngày 03 tháng 11 năm 2026"),
    body=title("GIẤY CHỨNG SINH")
    + (
        field_line("Họ và tên mẹ: Nguyễn Thị Kim Oanh; năm sinh: 1993"),
        field_line("Số định danh cá nhân: 052193007754"),
        field_line(f"Nơi cư trú: thôn Quảng Tín, {PHUOC_LOC_ADDRESS}"),
        field_line("Dân tộc: Kinh"),
        field_line("Đã sinh con vào lúc: 09 giờ 40 phút, ngày 02 tháng 11 năm 2026"),
        field_line("Tại: Khoa Sản, Trung tâm Y tế huyện Tuy Phước"),
        field_line("Số con trong lần sinh: 01; Giới tính của con: Nữ; Cân nặng: 3.200 gam"),
        field_line("Dự định đặt tên con: Võ Ngọc Bảo An"),
    ),
    footer_left=signature_block("Người đỡ đẻ", signer="Hồ Thị Lệ"),
    footer_right=signature_block("GIÁM ĐỐC", signer="Đặng Quốc Việt"),
)

ALLOWANCE_DECISION_1 = Page(
    header_left=issuing_body("ỦY BAN NHÂN DÂN", "PHƯỜNG NHƠN BÌNH", number="Số: 412/QĐ-UBND"),
    header_right=motto_with_date("Nhơn Bình, ngày 27 tháng 11 năm 2026"),
    body=title("QUYẾT ĐỊNH", "Về việc trợ cấp xã hội hàng tháng đối với người cao tuổi")
    + (
        Text("CHỦ TỊCH ỦY BAN NHÂN DÂN PHƯỜNG NHƠN BÌNH", "bold", align="center", space_after_pt=8),
        para("Căn cứ Luật Tổ chức chính quyền địa phương ngày 16 tháng 6 năm 2025;", "italic"),
        para("Căn cứ Luật Người cao tuổi ngày 23 tháng 11 năm 2009;", "italic"),
        para(
            "Căn cứ Nghị định số 20/2021/NĐ-CP ngày 15 tháng 3 năm 2021 của Chính phủ quy định chính "
            "sách trợ giúp xã hội đối với đối tượng bảo trợ xã hội;",
            "italic",
        ),
        para("Xét đề nghị của công chức Văn hóa - Xã hội phường Nhơn Bình.", "italic"),
        Text("QUYẾT ĐỊNH:", "bold", align="center", space_after_pt=8),
        para(
            "Điều 1. Trợ cấp xã hội hàng tháng đối với bà Huỳnh Thị Tám, sinh năm 1944, số định danh "
            "cá nhân 052144001932, nơi cư trú: khu vực 5, phường Nhơn Bình, thành phố Quy Nhơn, "
            "tỉnh Bình Định."
        ),
        para("Mức trợ cấp hàng tháng: 500.000 đồng (Năm trăm nghìn đồng)."),
        para("Thời điểm hưởng trợ cấp: kể từ ngày 01 tháng 12 năm 2026."),
    ),
)

ALLOWANCE_DECISION_2 = Page(
    body=(
        Text("2", align="center", space_after_pt=12),
        para(
            "Điều 2. Công chức Văn hóa - Xã hội phường có trách nhiệm hướng dẫn, chi trả trợ cấp cho "
            "đối tượng theo đúng quy định."
        ),
        para(
            "Điều 3. Văn phòng HĐND và UBND phường, công chức Văn hóa - Xã hội, công chức Tài chính - "
            "Kế toán và bà Huỳnh Thị Tám chịu trách nhiệm thi hành Quyết định này. Quyết định có hiệu "
            "lực kể từ ngày ký./."
        ),
    ),
    footer_left=recipients("- Như Điều 3;", "- Sở Y tế tỉnh (báo cáo);", "- Lưu: VT, VH-XH."),
    footer_right=signature_block("KT. CHỦ TỊCH", "PHÓ CHỦ TỊCH", signer="Đào Thị Thanh Xuân"),
    seal="ỦY BAN NHÂN DÂN PHƯỜNG NHƠN BÌNH * TP. QUY NHƠN * T. BÌNH ĐỊNH *",
)

HOUSEHOLD_BUSINESS_CERTIFICATE = Page(
    header_left=issuing_body("UBND HUYỆN TUY PHƯỚC", "PHÒNG TÀI CHÍNH - KẾ HOẠCH"),
    header_right=MOTTO,
    body=title("GIẤY CHỨNG NHẬN ĐĂNG KÝ HỘ KINH DOANH")
    + (
        Text("Số: 35D8001873", "bold", align="center", space_after_pt=0),
        Text("Đăng ký lần đầu: ngày 23 tháng 11 năm 2026", "italic", align="center", space_after_pt=8),
        field_line("1. Tên hộ kinh doanh: TẠP HÓA THANH TÂM"),
        field_line("2. Địa điểm kinh doanh: thôn Phú Mỹ 1, xã Phước Hòa, huyện Tuy Phước, tỉnh Bình Định"),
        field_line("Điện thoại: 0905 318 462"),
        field_line(
            "3. Ngành, nghề kinh doanh: bán lẻ lương thực, thực phẩm, đồ uống và hàng tiêu dùng "
            "trong cửa hàng kinh doanh tổng hợp"
        ),
        field_line("4. Vốn kinh doanh: 150.000.000 đồng (Một trăm năm mươi triệu đồng)"),
        field_line("5. Thông tin về chủ hộ kinh doanh:"),
        field_line("Họ và tên: LÊ THỊ THANH TÂM; Giới tính: Nữ"),
        field_line("Sinh ngày: 07/08/1985; Dân tộc: Kinh; Quốc tịch: Việt Nam"),
        field_line("Số định danh cá nhân: 052185009364"),
        field_line("Nơi thường trú: thôn Phú Mỹ 1, xã Phước Hòa, huyện Tuy Phước, tỉnh Bình Định"),
    ),
    footer_right=signature_block("TRƯỞNG PHÒNG", signer="Trương Công Định"),
    seal="PHÒNG TÀI CHÍNH - KẾ HOẠCH * HUYỆN TUY PHƯỚC * TỈNH BÌNH ĐỊNH *",
)

CRIMINAL_RECORD_CERTIFICATE = Page(
    header_left=issuing_body("UBND TỈNH BÌNH ĐỊNH", "SỞ TƯ PHÁP", number="Số: 3318/STP-LLTP"),
    header_right=motto_with_date("Quy Nhơn, ngày 24 tháng 11 năm 2026"),
    body=title("PHIẾU LÝ LỊCH TƯ PHÁP SỐ 1")
    + (
        para("Căn cứ Luật Lý lịch tư pháp ngày 17 tháng 6 năm 2009;", "italic"),
        para(
            "Căn cứ Tờ khai yêu cầu cấp Phiếu lý lịch tư pháp của ông Nguyễn Hoàng Phúc, nộp tại Trung "
            "tâm Phục vụ hành chính công tỉnh ngày 15 tháng 11 năm 2026,",
            "italic",
        ),
        Text("SỞ TƯ PHÁP TỈNH BÌNH ĐỊNH XÁC NHẬN:", "bold", align="center", space_after_pt=6),
        field_line("1. Họ và tên: NGUYỄN HOÀNG PHÚC; 2. Giới tính: Nam"),
        field_line("3. Ngày, tháng, năm sinh: 21/09/1998; 4. Nơi sinh: Bình Định"),
        field_line("5. Quốc tịch: Việt Nam"),
        field_line("6. Nơi cư trú: số 27 đường Nguyễn Huệ, phường Lê Lợi, thành phố Quy Nhơn, tỉnh Bình Định"),
        field_line("7. Số định danh cá nhân: 052098012457"),
        Text("TÌNH TRẠNG ÁN TÍCH", "bold", align="center", space_after_pt=2),
        Text("Không có án tích.", align="center", space_after_pt=6),
        Text("THÔNG TIN VỀ VIỆC CẤM ĐẢM NHIỆM CHỨC VỤ,", "bold", align="center", space_after_pt=0),
        Text("THÀNH LẬP, QUẢN LÝ DOANH NGHIỆP, HỢP TÁC XÃ", "bold", align="center", space_after_pt=2),
        Text("Không bị cấm đảm nhiệm chức vụ, thành lập, quản lý doanh nghiệp, hợp tác xã.", align="center"),
    ),
    footer_left=signature_block("NGƯỜI LẬP PHIẾU", signer="Trần Quốc Bảo"),
    footer_right=signature_block("KT. GIÁM ĐỐC", "PHÓ GIÁM ĐỐC", signer="Phạm Thị Ngọc Lan"),
    seal="SỞ TƯ PHÁP * TỈNH BÌNH ĐỊNH * UBND TỈNH BÌNH ĐỊNH *",
)

DOCUMENTS: tuple[Document, ...] = (
    Document(
        path="xa/phuoc-loc/000.31.25.H08-261120-0001-KQ1.pdf",
        container="pdf",
        dpi=200,
        scans=(Scan(MARITAL_STATUS_CERTIFICATE, skew_deg=3.0), Scan(CONTROL_SLIP, skew_deg=-1.2)),
        sidecar={"procedure_code": "1.001193", "title": "Giấy xác nhận tình trạng hôn nhân"},
    ),
    Document(
        path="xa/phuoc-loc/000.31.25.H08-261120-0002-HS1",
        container="folder",
        dpi=300,
        scans=(
            Scan(BIRTH_REGISTRATION_FORM, skew_deg=-2.0),
            Scan(BIRTH_CERTIFICATE, skew_deg=1.5, rotation=180, grayscale=True, image_format="png"),
        ),
    ),
    Document(
        path="xa/nhon-binh/000.31.26.H08-261121-0001-KQ1.tif",
        container="tiff",
        dpi=300,
        scans=(Scan(ALLOWANCE_DECISION_1, skew_deg=1.2, rotation=90), Scan(ALLOWANCE_DECISION_2, skew_deg=-2.5)),
    ),
    Document(
        path="huyen/tuy-phuoc/000.20.30.H08-261118-0007-KQ1.pdf",
        container="pdf",
        dpi=300,
        scans=(Scan(HOUSEHOLD_BUSINESS_CERTIFICATE, skew_deg=-4.0),),
    ),
    Document(
        path="tinh/ttpvhcc/000.00.12.H08-261115-0003-KQ1.pdf",
        container="pdf",
        dpi=200,
        scans=(Scan(CRIMINAL_RECORD_CERTIFICATE, skew_deg=1.5),),
    ),
)
