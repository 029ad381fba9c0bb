# ruff: noqa
"""The spec's Python example client (order-process-flow.md, "Python/Django Example"), copied
verbatim, whitespace included: formatting and lint are off for this file on purpose."""

# fmt: off
import requests

class OrderAPI:
    def __init__(self, base_url, token):
        self.base_url = base_url
        self.headers = {
            'Authorization': f'Bearer {token}',
            'Content-Type': 'application/json'
        }
    
    def get_order(self, order_id):
        url = f'{self.base_url}/api/orders/{order_id}/'
        response = requests.get(url, headers=self.headers)
        return response.json()
    
    def list_orders(self, **filters):
        url = f'{self.base_url}/api/orders/'
        response = requests.get(url, headers=self.headers, params=filters)
        return response.json()
    
    def cancel_order(self, order_id, reason):
        url = f'{self.base_url}/api/orders/{order_id}/cancel/'
        response = requests.post(url, headers=self.headers, json={'reason': reason})
        return response.json()
    
    def get_order_history(self, order_id):
        url = f'{self.base_url}/api/orders/{order_id}/history/'
        response = requests.get(url, headers=self.headers)
        return response.json()

class RestaurantAPI:
    def __init__(self, base_url, token):
        self.base_url = base_url
        self.headers = {
            'Authorization': f'Bearer {token}',
            'Content-Type': 'application/json'
        }
    
    def get_order_queue(self):
        url = f'{self.base_url}/api/restaurants/orders/queue/'
        response = requests.get(url, headers=self.headers)
        return response.json()
    
    def confirm_order(self, order_id, estimated_prep_time=20):
        url = f'{self.base_url}/api/restaurants/orders/{order_id}/confirm/'
        response = requests.post(url, headers=self.headers, json={
            'estimated_prep_time': estimated_prep_time
        })
        return response.json()
    
    def start_preparing(self, order_id):
        url = f'{self.base_url}/api/restaurants/orders/{order_id}/start-preparing/'
        response = requests.post(url, headers=self.headers)
        return response.json()
    
    def mark_ready(self, order_id):
        url = f'{self.base_url}/api/restaurants/orders/{order_id}/mark-ready/'
        response = requests.post(url, headers=self.headers)
        return response.json()
# fmt: on
