from litestar import Litestar
from litestar.testing import AsyncTestClient


async def test_each_demo_tenant_has_its_themed_home_page(client: AsyncTestClient[Litestar]):
    for slug, name in [
        ("muenchen", "Landeshauptstadt München"),
        ("augsburg", "Tür an Tür"),
        ("toronto", "Toronto Mentoring Partnership"),
    ]:
        response = await client.get("/", headers={"host": f"{slug}.localhost:8000"})
        assert response.status_code == 200
        assert name in response.text
        assert f'href="/static/themes/{slug}/theme.css"' in response.text
