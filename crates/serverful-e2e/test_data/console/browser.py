# Drives Serverful's web console in headless Chromium (Debian's `chromium` and `chromedriver`,
# through Selenium) as a user would: a wrong token, then the right one; the stack; a function's
# failed invocation, opened and replayed; the item browser (a query with a key of the wrong type,
# then an item edited and saved); the metrics page; and the stacks page on a phone-sized screen.
# Prints what it saw as JSON.
#
# argv: the console's URL, the admin token, the stack, the failing function's logical id, the
# table, a folder for the screenshots, the gateway's URL (traffic while the metrics page samples).
import json, os, sys, time, urllib.request

from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

console, token, stack, function, table, shots, gateway = sys.argv[1:8]

options = Options()
options.binary_location = "/usr/bin/chromium"
for flag in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1200,900"]:
    options.add_argument(flag)
options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
driver = webdriver.Chrome(options=options, service=Service(executable_path="/usr/bin/chromedriver"))
wait = WebDriverWait(driver, 20, ignored_exceptions=[NoSuchElementException, StaleElementReferenceException])
seen = {}


def text(selector):
    return driver.find_element(By.CSS_SELECTOR, selector).text


def until_text(selector, check=lambda value: value != ""):
    wait.until(lambda d: check(text(selector)))
    return text(selector)


def shot(name):
    driver.save_screenshot(os.path.join(shots, name + ".png"))


def log_in(value):
    field = wait.until(lambda d: d.find_element(By.ID, "token"))
    field.clear()
    field.send_keys(value)
    driver.find_element(By.ID, "login-button").click()


try:
    driver.get(console)
    # A wrong token: the login page says so and shows nothing else.
    log_in("not-the-token")
    seen["wrong token"] = until_text("#login-error")
    shot("login")
    log_in(token)
    seen["stacks"] = until_text("main table")
    shot("stacks")

    driver.get(f"{console}#/stack/{stack}")
    seen["stack"] = until_text("main", lambda value: "Deploy history" in value and function in value)
    shot("stack")

    driver.get(f"{console}#/function/{stack}/{function}")
    wait.until(lambda d: d.find_element(By.ID, "errors-only")).click()
    until_text("#invocations", lambda value: "error" in value)
    seen["errors only"] = text("#invocations")
    shot("function")
    driver.find_element(By.CSS_SELECTOR, "#invocations tbody tr a").click()
    seen["invocation"] = until_text("main", lambda value: "Event" in value and "Logs" in value)
    seen["invocation logs"] = text("#invocation-logs")
    driver.find_element(By.ID, "replay").click()
    seen["replay"] = until_text("#replay-result", lambda value: "Now" in value)
    shot("invocation")

    driver.get(f"{console}#/table/{table}")
    until_text("#items", lambda value: "item(s)" in value)
    # The key is a number: a word is refused with DynamoDB's own message.
    driver.find_element(By.ID, "hash-key").send_keys("not-a-number")
    driver.find_element(By.ID, "query-button").click()
    seen["bad key"] = until_text("#items .error")
    hash_key = driver.find_element(By.ID, "hash-key")
    hash_key.clear()
    hash_key.send_keys("1")
    driver.find_element(By.ID, "query-button").click()
    seen["query"] = until_text("#items", lambda value: "Query: 1 item(s)" in value)
    driver.find_element(By.CSS_SELECTOR, "#items tbody button").click()
    editor = wait.until(lambda d: d.find_element(By.ID, "item-json"))
    item = json.loads(editor.get_attribute("value"))
    item["note"] = {"S": "edited in the console"}
    driver.execute_script("arguments[0].value = arguments[1];", editor, json.dumps(item))
    driver.find_element(By.ID, "save-item").click()
    seen["saved"] = until_text("#item-saved")
    until_text("#items", lambda value: "edited in the console" in value)
    shot("table")

    driver.get(f"{console}#/queue/console-jobs")
    until_text("#messages", lambda value: "empty" in value)
    driver.find_element(By.ID, "send").click()
    seen["sent"] = until_text("#sent")
    until_text("#messages", lambda value: "from the console" in value)
    driver.find_element(By.ID, "peek").click()
    time.sleep(0.5)
    seen["peeked"] = until_text("#messages", lambda value: "from the console" in value)
    shot("queue")

    driver.get(f"{console}#/metrics")
    until_text("#charts", lambda value: "Invocations per second" in value)
    # Calls while the page samples: the next sample draws their rate.
    deadline = time.time() + 11
    n = 100
    while time.time() < deadline:
        request = urllib.request.Request(f"{gateway}/items/{n}", method="PUT")
        urllib.request.urlopen(request, timeout=10).read()
        n += 1
        time.sleep(0.05)
    seen["metrics"] = text("#charts")
    shot("metrics")

    # A phone: the page fits the screen's width.
    driver.set_window_size(390, 844)
    driver.get(f"{console}#/stack/{stack}")
    until_text("main", lambda value: "Deploy history" in value)
    seen["phone overflow"] = driver.execute_script(
        "return document.documentElement.scrollWidth - window.innerWidth;")
    shot("phone")

    seen["console"] = [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"
                       and "401" not in entry["message"]]
finally:
    driver.quit()
print(json.dumps(seen))
